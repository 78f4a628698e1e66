"""The MLflow server of the stack is one process: `mlflow server` becomes its uvicorn instead of waiting on it."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from crypto_mlops.stack.mlflow_server import MlflowServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_mlflow_server_runs_as_one_process(tmp_path: Path) -> None:
    server = MlflowServer(
        backend_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        log_path=tmp_path / "mlflow.log",
    )
    assert server.command()[1:3] == ["-m", "crypto_mlops.stack.mlflow_exec"]
    server.start(timeout=180)
    try:
        pid = server.pid
        assert pid is not None and server.is_healthy()
        process = psutil.Process(pid)
        assert "uvicorn" in process.cmdline() and not process.children(recursive=True)
    finally:
        server.stop(timeout=20)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
