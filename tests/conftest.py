"""Root test configuration.

Tests never touch the network or the developer's files: before anything imports the settings we
point every writable location at a throw-away directory and default the data source to the
synthetic simulator. Real servers come from the fixtures in tests/fixtures/servers.py.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_SANDBOX = Path(tempfile.mkdtemp(prefix="crypto-mlops-tests-"))
for _key, _value in {
    "ENV": "test",
    "DATA_DIR": str(_SANDBOX / "data"),
    "DATA_SOURCE": "synthetic",
    "MLFLOW_TRACKING_URI": f"sqlite:///{_SANDBOX / 'mlflow.db'}",
    "DATABASE_URL": f"sqlite:///{_SANDBOX / 'history.db'}",
    "API_KEY": "test-api-key",
    "EXCHANGE_MAX_RETRIES": "1",
    "EXCHANGE_TIMEOUT_S": "3",
    "MPLBACKEND": "Agg",
    "GIT_PYTHON_REFRESH": "quiet",
    # One client makes every call of a test session: the per-client budget is tested on its own
    # (tests/api/test_limits.py, tests/gql/test_limits.py) and would otherwise refuse unrelated tests.
    "RATE_LIMIT_PER_MIN": "0",
}.items():
    os.environ[_key] = _value
for _key in (
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "DATA_CSV_PATH",
    "KAFKA_BOOTSTRAP_SERVERS",
):
    os.environ.pop(_key, None)
(_SANDBOX / "data").mkdir(parents=True, exist_ok=True)

pytest_plugins = ["tests.fixtures.servers"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the throw-away sandbox (servers are stopped by their own fixtures before this)."""
    import shutil

    shutil.rmtree(_SANDBOX, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are cached per process; clear the cache so a test's monkeypatched env applies.

    `mlflow.set_tracking_uri` (called by `registry.get_client`) also exports MLFLOW_TRACKING_URI, so a
    test that points the registry elsewhere without monkeypatching the variable would hand its private
    registry to every later test: the registry URI is put back after each test.
    """
    from crypto_mlops.config import get_settings

    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    if tracking_uri is not None and os.environ.get("MLFLOW_TRACKING_URI") != tracking_uri:
        import sys

        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
        if "mlflow" in sys.modules:
            sys.modules["mlflow"].set_tracking_uri(tracking_uri)
            sys.modules["mlflow"].set_registry_uri(tracking_uri)


@pytest.fixture(scope="session")
def sandbox_dir() -> Path:
    return _SANDBOX


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"development data not found at {SHARED_DATA} (../shared/data beside the repo)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def btc_csv(shared_data_dir: Path) -> Path:
    path = shared_data_dir / "Binance_BTCUSDT_1h.csv"
    if not path.exists():
        pytest.skip(f"{path.name} not found in {shared_data_dir}")
    return path


@pytest.fixture(scope="session")
def eth_csv(shared_data_dir: Path) -> Path:
    path = shared_data_dir / "Binance_ETHUSDT_1h.csv"
    if not path.exists():
        pytest.skip(f"{path.name} not found in {shared_data_dir}")
    return path
