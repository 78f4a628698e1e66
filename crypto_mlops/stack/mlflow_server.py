"""The MLflow tracking server (`mlflow server`) for tests and the stack."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from crypto_mlops.stack.ports import LOOPBACK, free_port, http_ok, wait_until
from crypto_mlops.stack.process import ManagedProcess, ServiceUnavailable, venv_script


class MlflowServer(ManagedProcess):
    """`mlflow server` on 127.0.0.1:`port`, one worker, ready when GET /health answers.

    `backend_uri`: e.g. PostgresServer.url("mlflow") or sqlite:///path/mlflow.db.
    `artifacts_destination`: e.g. "s3://mlflow/artifacts" (pass SeaweedS3.env() as `env`) or a
    local directory; artifacts are proxied (--serve-artifacts), so clients need no S3 keys.
    """

    name = "mlflow"
    default_start_timeout = 90.0  # ~10-12 s idle; first start migrates the schema; 2 shared cores
    port: int

    def __init__(
        self,
        port: int | None = None,
        *,
        backend_uri: str,
        artifacts_destination: str,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        workers: int = 1,
        job_execution: bool = False,
        wait_for: Callable[[], bool] | None = None,
    ) -> None:
        self.port = port or free_port()
        super().__init__(log_path or Path(f"/tmp/mlflow-{self.port}.log"))
        self.backend_uri = backend_uri
        self.artifacts_destination = artifacts_destination
        self.extra_env = dict(env or {})
        self.workers = workers
        # MLflow 3's job runner (GenAI jobs; 7 huey consumer processes) is not used by this project.
        self.job_execution = job_execution
        #: Launch only once this is true (the embedded stack: once the SQLite schema exists).
        self.wait_for = wait_for

    @property
    def tracking_uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self) -> list[str]:
        mlflow = venv_script("mlflow")
        if not mlflow:
            raise ServiceUnavailable("mlflow not installed: pip install mlflow==3.17.2")
        stores = ["--backend-store-uri", self.backend_uri, "--artifacts-destination", self.artifacts_destination]
        listen = ["--host", LOOPBACK, "--port", str(self.port), "--workers", str(self.workers)]
        # `mlflow server`, run so that the server replaces the command instead of being its child (mlflow_exec.py).
        return [sys.executable, "-m", "crypto_mlops.stack.mlflow_exec", "server", *stores, "--serve-artifacts", *listen]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # The server must not inherit a client-side tracking URI pointing elsewhere.
        env.pop("MLFLOW_TRACKING_URI", None)
        env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "true" if self.job_execution else "false"
        env.update(self.extra_env)
        return env

    def prepare(self) -> None:
        if self.wait_for is not None:
            wait_until(self.wait_for, self.default_start_timeout, f"{self.name}: its database schema", interval=0.3)

    def ready(self) -> bool:
        return http_ok(f"{self.tracking_uri}/health")


def sqlite_path(uri: str, root: Path) -> Path | None:
    """The file of a `sqlite:///...` URI (relative paths from `root`), None for any other store."""
    if not uri.startswith("sqlite:///"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    return path if path.is_absolute() else root / path


def schema_ready(db: Path) -> bool:
    """Has MLflow finished creating its SQLite schema? (the default experiment is written after the migrations)"""
    if not db.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5)) as conn:
            return conn.execute("SELECT 1 FROM experiments WHERE experiment_id = 0").fetchone() is not None
    except sqlite3.Error:
        return False


def alias_set(db: Path, model: str, alias: str) -> bool:
    """Does the registered model `model` have `alias` in this SQLite store? (read-only; False before the schema)"""
    if not db.exists():
        return False
    query = "SELECT 1 FROM registered_model_aliases WHERE name = ? AND alias = ?"
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.5)) as conn:
            return conn.execute(query, (model, alias)).fetchone() is not None
    except sqlite3.Error:
        return False
