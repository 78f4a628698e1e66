"""gRPC's standard health service says SERVING only once the service is ready."""

from __future__ import annotations

import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crypto_mlops.models.contract import Predictor
from crypto_mlops.rpc.server import SERVICE_NAME, create_server
from tests.service.fixtures import make_service


def test_health_is_not_serving_until_the_model_is_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = make_service(tmp_path, settings={"model_poll_s": 0})
    gate = threading.Event()
    load = svc.models.get

    def slow_load() -> Predictor:
        gate.wait(30)
        return load()

    monkeypatch.setattr(svc.models, "get", slow_load)
    svc.start()
    server, port = create_server(svc, port=0)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            ask = health_pb2.HealthCheckRequest(service=SERVICE_NAME)
            assert stub.Check(ask, timeout=5).status == health_pb2.HealthCheckResponse.NOT_SERVING
            gate.set()
            assert svc.wait_ready(60)
            # The flip runs on its own thread right after readiness: give it a moment.
            for _ in range(50):
                if stub.Check(ask, timeout=5).status == health_pb2.HealthCheckResponse.SERVING:
                    break
                threading.Event().wait(0.05)
            assert stub.Check(ask, timeout=5).status == health_pb2.HealthCheckResponse.SERVING
    finally:
        gate.set()
        server.stop(grace=0).wait()
        svc.close()
