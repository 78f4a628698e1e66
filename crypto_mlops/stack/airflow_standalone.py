"""`airflow standalone` (scheduler, API server, DAG processor, triggerer) for `stack up --full`."""

from __future__ import annotations

import signal
from pathlib import Path

from crypto_mlops.stack.child import ChildProcess
from crypto_mlops.stack.health import HealthKind, HealthSpec, check
from crypto_mlops.stack.ports import LOOPBACK

DAG_FILE = "crypto_ml_pipeline.py"


def dags_folder(root: Path) -> Path:
    """The repository's airflow/dags (next to the package in a source checkout), else ROOT/airflow/dags."""
    beside_package = Path(__file__).resolve().parents[2] / "airflow" / "dags"
    return beside_package if (beside_package / DAG_FILE).exists() else root / "airflow" / "dags"


def airflow_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


def airflow_health(port: int) -> HealthSpec:
    """Airflow answers 200 here even when its scheduler is down; the http probe looks inside."""
    return HealthSpec(HealthKind.HTTP, f"{airflow_url(port)}/api/v2/monitor/health")


def airflow_env(home: Path, port: int, database_url: str, dags: Path) -> dict[str, str]:
    """The AIRFLOW__* settings for a loopback-only standalone Airflow with our DAG folder."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
        "AIRFLOW__API__HOST": LOOPBACK,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": airflow_url(port),
    }


class AirflowStandalone(ChildProcess):
    """`airflow standalone`, ready once its health endpoint reports every part healthy."""

    stop_signal = signal.SIGINT  # SIGTERM would orphan its ~12 children

    def __init__(self, port: int, env: dict[str, str], log_path: Path, start_timeout: float = 180.0) -> None:
        spec = airflow_health(port)
        super().__init__(
            "airflow",
            ["airflow", "standalone"],
            env,
            log_path,
            ready=lambda: check(spec).ok,
            start_timeout=start_timeout,
            restore_sigint=True,
        )
