"""Shared fixtures of the serving tests (imported by the conftest of each serving test folder).

The service runs on the synthetic market simulator (no network) with its own SQLite history file.
Its model is the real one: `load_predictor()` finds no champion in the test MLflow store, so the
service serves the HAR baseline, which is what a fresh install does.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.service import CryptoService


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    base = get_settings().model_copy(
        update={"database_url": f"sqlite:///{tmp / 'history.db'}", "data_source": "synthetic", **overrides}
    )
    return base


def make_service(tmp: Path, **kwargs: Any) -> CryptoService:
    overrides = kwargs.pop("settings", {})
    return CryptoService(make_settings(tmp, **overrides), **kwargs)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CryptoService]:
    svc = make_service(tmp_path_factory.mktemp("svc"))
    yield svc
    svc.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class UvicornThread:
    """A real uvicorn server in a thread on a free loopback port (stopped by the fixture)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> UvicornThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
