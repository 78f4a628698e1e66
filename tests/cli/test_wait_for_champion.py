"""`serve all --wait-for-champion`: waits for the registry without touching a SQLite store not made yet."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crypto_mlops.cli.serve_all import wait_for_champion
from crypto_mlops.config import Settings


def test_gives_up_without_creating_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings(MLFLOW_TRACKING_URI="sqlite:///mlflow.db")
    t0 = time.monotonic()
    assert wait_for_champion(settings, timeout_s=0.6, interval_s=0.1) is False
    assert 0.5 <= time.monotonic() - t0 < 10
    # Opening the store would have created its schema, racing the bootstrap's own migration.
    assert not (tmp_path / "mlflow.db").exists()
