"""`crypto-mlops serve all`: REST, standalone GraphQL and gRPC in one process, one service behind them.

Started for real (a subprocess on free ports, synthetic candles, a throw-away MLflow store and history
database): every port says ready, each protocol answers from the same model, and SIGTERM stops all
three cleanly with the history flushed.
"""

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

from crypto_mlops.rpc.stubs import load
from crypto_mlops.service.history import HistoryStore
from crypto_mlops.stack.ports import free_port, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]
CLI = [sys.executable, "-m", "crypto_mlops.cli.main"]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "DATABASE_URL"))}
    env.update(
        {
            "API_PORT": str(free_port()),
            "GRAPHQL_PORT": str(free_port()),
            "GRPC_PORT": str(free_port()),
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # nobody there: the in-process SSE feed
            "DATA_SOURCE": "synthetic",
            "DATA_DIR": str(tmp_path / "data"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'history.db'}",
            "MODEL_POLL_S": "0",
            **extra,
        }
    )
    return env


def _grpc_health(target: str) -> int:
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return int(stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status)


def test_one_process_serves_rest_graphql_and_grpc_and_stops_cleanly(tmp_path: Path) -> None:
    env = _env(tmp_path)
    api, gql = f"http://127.0.0.1:{env['API_PORT']}", f"http://127.0.0.1:{env['GRAPHQL_PORT']}"
    target = f"127.0.0.1:{env['GRPC_PORT']}"
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([*CLI, "serve", "all"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:

        def ready() -> bool:
            try:
                return httpx.get(f"{api}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 180, "serve all /health", interval=0.5, alive=lambda: proc.poll() is None)
        assert _grpc_health(target) == health_pb2.HealthCheckResponse.SERVING  # same readiness, same moment

        rest = httpx.post(f"{api}/v1/crypto/ml-signal", json={"symbol": "BTCUSDT"}, timeout=30).json()
        query = "{ health { status } modelInfo { modelVersion } }"
        data = httpx.post(f"{gql}/graphql", json={"query": query}, timeout=30).json()["data"]
        pb2, pb2_grpc = load()
        with grpc.insecure_channel(target) as channel:
            reply = pb2_grpc.CryptoServiceStub(channel).GenerateMLPrediction(
                pb2.MLPredictionRequest(symbol="BTCUSDT"), timeout=30
            )
        # One service: the three protocols answer with the same model and the same cached candles.
        assert data["health"]["status"] == "ok"
        assert rest["model_version"] == data["modelInfo"]["modelVersion"]
        assert reply.model_version == rest["model_version"]
        assert reply.ml_prediction.prediction == pytest.approx(rest["ml_prediction"]["prediction"])
        assert (tmp_path / "serve.log").read_text().count("Started server process") == 2

        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, (tmp_path / "serve.log").read_text()[-3000:]
        assert time.monotonic() - t0 < 30
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    store = HistoryStore(env["DATABASE_URL"])
    try:  # written behind the requests, flushed by the clean stop
        assert store.tail_ml_predictions(10), "the ml-signal requests left no history row"
    finally:
        store.close()


def test_serve_all_refuses_several_api_workers(tmp_path: Path) -> None:
    env = _env(tmp_path, API_WORKERS="2")
    result = subprocess.run([*CLI, "serve", "all"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "serve api" in result.stdout and "STACK_SERVING=split" in result.stdout
