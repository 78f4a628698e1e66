"""Pipeline test helpers: local buckets in a temp dir and candle CSVs made from the simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from crypto_mlops.data.sources.synthetic import simulate

END = pd.Timestamp("2026-01-01 00:00", tz="UTC")


def candles(n_bars: int, end: pd.Timestamp = END, seed: int = 7) -> pd.DataFrame:
    return simulate(n_bars=n_bars, seed=seed, end=end).frame


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    out.index = [ts.isoformat() for ts in out.index]
    out.index.name = "timestamp"
    out.to_csv(path)
    return path


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Buckets in a local directory, a private MLflow registry, an API URL nobody listens on."""
    from crypto_mlops.config import get_settings
    from crypto_mlops.stack.ports import free_port

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("API_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
