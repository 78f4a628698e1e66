"""Ready means ready: /health says so only once the model is loaded and the default candles are cached."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crypto_mlops.api.app import create_app
from crypto_mlops.models.contract import Predictor
from crypto_mlops.service import signals as signals_module
from tests.service.fixtures import make_service


def test_not_ready_until_the_model_is_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = make_service(tmp_path, settings={"model_poll_s": 0})
    gate = threading.Event()
    load = svc.models.get

    def slow_load(symbol: str | None = None) -> Predictor:
        gate.wait(30)  # the model store is slow to answer
        return load(symbol)

    monkeypatch.setattr(svc.models, "get", slow_load)
    svc.start()
    try:
        with TestClient(create_app(svc, start_service=False)) as client:
            assert not svc.ready
            assert svc.health().status == "starting"
            r = client.get("/health")
            assert r.status_code == 503 and r.json()["status"] == "starting"
            assert client.get("/livez").json() == {"status": "alive"}  # liveness never waits
            gate.set()
            assert svc.wait_ready(60)
            r = client.get("/health")
            assert r.status_code == 200 and r.json()["status"] == "ok"
            assert r.json()["model_loaded"] is True

            # The warm-up precomputed the default pair's answers: the first request does no model work.
            def no_model_work(*_: object) -> None:
                raise AssertionError("the first request after ready ran the model")

            monkeypatch.setattr(signals_module, "_predict_now", no_model_work)
            r = client.post("/v1/crypto/ml-signal", json={})
            assert r.status_code == 200 and r.json()["ml_prediction"]["predicted_rv_24h"] > 0
    finally:
        gate.set()
        svc.close()


def test_not_ready_while_the_default_candles_cannot_be_loaded(tmp_path: Path) -> None:
    def down(*_: object) -> None:
        raise TimeoutError("exchange timed out")

    svc = make_service(tmp_path, market_loader=down, settings={"model_poll_s": 0})
    svc.start()
    try:
        assert not svc.wait_ready(1.5)
        assert svc.health().status == "starting"
    finally:
        svc.close()


def test_a_service_nobody_started_has_nothing_pending(tmp_path: Path) -> None:
    svc = make_service(tmp_path)
    try:
        assert svc.ready and svc.health().status == "ok"
    finally:
        svc.close()
