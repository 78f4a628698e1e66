"""A port served by another component's process: ready with its probe, the host's pid, nothing to stop."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from crypto_mlops.stack.child import ChildProcess
from crypto_mlops.stack.endpoint import ServingProcess, SharedEndpoint
from crypto_mlops.stack.ports import LOOPBACK
from crypto_mlops.stack.process import ManagedProcess, ServiceError


def _sleeper(tmp_path: Path) -> ChildProcess:
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    return ChildProcess("host", command, {}, tmp_path / "host.log", ready=lambda: True)


def test_endpoint_follows_its_host(tmp_path: Path) -> None:
    host = _sleeper(tmp_path)
    holder: list[ManagedProcess] = [host]
    answers = iter([False, False, True])
    endpoint = SharedEndpoint("grpc", lambda: holder[0], lambda: next(answers, True), tmp_path / "grpc.log", "api")
    assert endpoint.pid is None and not endpoint.running()
    host.start(timeout=30)
    try:
        endpoint.start(timeout=10)
        assert endpoint.pid == host.pid and endpoint.running() and endpoint.start_seconds is not None
        assert "served by the api process" in (tmp_path / "grpc.log").read_text()
        endpoint.stop()  # the host's job: it keeps running
        assert host.running()
    finally:
        host.stop(timeout=5)
    assert not endpoint.running() and endpoint.pid is None


def test_endpoint_without_its_host_times_out(tmp_path: Path) -> None:
    endpoint = SharedEndpoint("graphql", lambda: None, lambda: True, tmp_path / "graphql.log", "api")
    with pytest.raises(ServiceError, match="in the api process"):
        endpoint.start(timeout=0.3)


def test_serving_process_refuses_a_taken_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-c", "pass"]
        process = ServingProcess("api", command, {}, tmp_path / "api.log", lambda: True, ports=(port,))
        with pytest.raises(ServiceError, match=str(port)):
            process.start(timeout=5)
    assert not process.running()
