"""`crypto-mlops serve api|graphql|grpc` as real processes (what `make up` runs), stopped by signal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.service.fixtures import free_port


def _wait(check, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()[-2000:]
        try:
            if check():
                return
        except (httpx.HTTPError, grpc.RpcError):
            pass
        time.sleep(0.3)
    raise AssertionError(f"not ready in {timeout_s} s:\n{log.read_text()[-2000:]}")


def _graphql_ready(url: str, query: dict[str, str]) -> bool:
    response = httpx.post(url, json=query, timeout=5)
    if response.status_code != 200:
        return False
    health = ((response.json().get("data") or {}).get("health")) or {}
    return bool(health) and health.get("status") != "starting"


@pytest.mark.slow
def test_serve_commands_start_answer_and_stop(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATA_SOURCE": "synthetic",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'history.db'}",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "PREDICTION_FEED": "periodic",
    }
    ports = {name: free_port() for name in ("api", "graphql", "grpc")}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs = {name: tmp_path / f"{name}.log" for name in ports}
    try:
        for name, port in ports.items():
            cmd = [sys.executable, "-m", "crypto_mlops.cli.main", "serve", name, "--port", str(port)]
            procs[name] = subprocess.Popen(
                cmd, env=env, cwd=tmp_path, stdout=logs[name].open("wb"), stderr=subprocess.STDOUT
            )
        api = f"http://127.0.0.1:{ports['api']}"
        _wait(lambda: httpx.get(f"{api}/health", timeout=5).status_code == 200, procs["api"], logs["api"])
        signal_ = httpx.post(f"{api}/v1/crypto/signal", json={"symbol": "BTCUSDT", "explain": True}, timeout=60)
        assert signal_.status_code == 200 and signal_.json()["source"] == "synthetic"

        gql_url = f"http://127.0.0.1:{ports['graphql']}/graphql"
        query = {"query": "{ health { status mlAvailable } }"}
        # Ready means ready: GraphQL `health` says "starting" until the warm-up has loaded the model.
        _wait(lambda: _graphql_ready(gql_url, query), procs["graphql"], logs["graphql"])
        assert httpx.post(gql_url, json=query, timeout=30).json()["data"]["health"]["status"] == "ok"

        channel = grpc.insecure_channel(f"127.0.0.1:{ports['grpc']}")
        stub = health_pb2_grpc.HealthStub(channel)
        _wait(
            lambda: (
                stub.Check(health_pb2.HealthCheckRequest(), timeout=2).status == health_pb2.HealthCheckResponse.SERVING
            ),
            procs["grpc"],
            logs["grpc"],
        )
        channel.close()
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = {name: proc.wait(timeout=30) for name, proc in procs.items()}
    # uvicorn shuts down gracefully, then re-raises the captured SIGTERM (exit -15); gRPC exits 0.
    assert codes["grpc"] == 0, logs["grpc"].read_text()[-1500:]
    for name in ("api", "graphql"):
        assert codes[name] in (0, -signal.SIGTERM), logs[name].read_text()[-1500:]
        assert "Application shutdown complete" in logs[name].read_text()
