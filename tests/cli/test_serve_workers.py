"""API_WORKERS: `serve api` runs REST in N uvicorn worker processes, each building its own app (and model)."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from crypto_mlops.cli.main import app
from crypto_mlops.config import get_settings


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, dict[str, Any]]]:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setenv("GC_FREEZE", "0")  # `serve` would set it to 1 for the rest of this test process
    monkeypatch.setattr(uvicorn, "run", lambda target, **kwargs: calls.append((target, kwargs)))
    return calls


def test_several_workers_build_the_app_in_each_worker(
    monkeypatch: pytest.MonkeyPatch, captured: list[tuple[Any, dict[str, Any]]]
) -> None:
    monkeypatch.setenv("API_WORKERS", "3")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["serve", "api", "--port", "18999"])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    (target, kwargs) = captured[0]
    # An import string and a factory: uvicorn imports it in every worker process.
    assert target == "crypto_mlops.api.app:create_app" and kwargs["factory"] is True
    assert kwargs["workers"] == 3 and kwargs["port"] == 18999
    assert "3 workers" in result.output


def test_api_workers_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GC_FREEZE", "0")
    monkeypatch.setenv("API_WORKERS", "0")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "api"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "API_WORKERS" in result.output
