"""Every REST endpoint of SPEC §6: happy path with filled fields, and bad input -> clear 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crypto_mlops.api.app import create_app
from crypto_mlops.service import CryptoService
from tests.service.fixtures import make_service

SEED_METRICS_KEYS = {
    "start_time",
    "requests_total",
    "signals_total",
    "ml_predictions_total",
    "last_signal_at",
    "last_ml_prediction_at",
    "ml_available",
}


@pytest.fixture(scope="module")
def client(service: CryptoService) -> Iterator[TestClient]:
    with TestClient(create_app(service, start_service=False)) as c:
        yield c


def _no_nulls(obj: object, path: str = "") -> list[str]:
    """Paths of null values (every field must be filled)."""
    if obj is None:
        return [path]
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _no_nulls(v, f"{path}.{k}")]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _no_nulls(v, f"{path}[{i}]")]
    return []


def test_health(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["timestamp"].endswith("Z")
    assert body["data_source"] == "synthetic" and body["database"] == "sqlite:ok"
    assert isinstance(body["ml_available"], bool)


def test_ohlcv(client: TestClient) -> None:
    r = client.get("/v1/crypto/ohlcv", params={"symbol": "ETHUSDT", "limit": 120})
    assert r.status_code == 200
    body = r.json()
    assert body["symbol"] == "ETH/USDT" and body["rows"] == len(body["data"]) == 120
    assert body["source"] == "synthetic" and body["candle_time"] == body["data"][-1]["time"]
    bar = body["data"][-1]
    assert set(bar) == {"ts", "open", "high", "low", "close", "volume", "time"}
    assert bar["ts"] > 1_500_000_000_000  # epoch ms
    assert bar["low"] <= min(bar["open"], bar["close"]) <= max(bar["open"], bar["close"]) <= bar["high"]


def test_signal_seed_example(client: TestClient) -> None:
    r = client.post("/v1/crypto/signal", json={"symbol": "BTCUSDT", "horizon_min": 60, "explain": True})
    assert r.status_code == 200, r.text
    body = r.json()
    for key in ("symbol", "horizon_min", "risk_score", "nowcast_ret", "vol_regime", "method", "explain"):
        assert key in body
    assert body["method"] == "heuristic" and body["source"] == "synthetic"
    assert body["explain"]["features_tail"] and body["explain"]["inputs"]["formula"]
    assert _no_nulls(body) == []


def test_signal_without_body_uses_defaults(client: TestClient) -> None:
    r = client.post("/v1/crypto/signal")
    assert r.status_code == 200
    assert r.json()["symbol"] == "BTC/USDT" and r.json()["explain"] is None


def test_ml_signal_seed_example(client: TestClient) -> None:
    r = client.post("/v1/crypto/ml-signal", json={"symbol": "BTCUSDT", "include_heuristic": True})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "ml" and body["model_version"]
    p = body["ml_prediction"]
    for key in (
        "prediction",
        "predicted_rv_24h",
        "predicted_volatility",
        "current_volatility",
        "volatility_regime",
        "risk_level",
        "confidence",
        "model_name",
        "model_version",
        "model_type",
        "prediction_timestamp",
        "source",
    ):
        assert p[key] not in (None, ""), key
    cmp = body["heuristic_comparison"]
    assert set(cmp["ml_vs_heuristic"]) == {"volatility_diff", "regime_match"}
    assert _no_nulls(body) == []


def test_compare_seed_example(client: TestClient) -> None:
    r = client.get("/v1/crypto/signals/compare", params={"symbol": "BTCUSDT", "timeframe": "1h", "limit": 200})
    assert r.status_code == 200, r.text
    body = r.json()
    assert _no_nulls(body) == []  # the seed returned null confidence / risk_level here
    assert 0 < body["ml"]["confidence"] <= 1
    assert body["comparison"]["ml_confidence"] == body["ml"]["confidence"]


def test_tails_return_recorded_history(client: TestClient) -> None:
    client.post("/v1/crypto/signal", json={"symbol": "ETHUSDT"})
    client.post("/v1/crypto/ml-signal", json={"symbol": "ETHUSDT"})
    signals = client.get("/v1/crypto/signals/tail", params={"n": 50}).json()
    assert signals[-1]["symbol"] == "ETH/USDT"
    eth_only = client.get("/v1/crypto/signals/tail", params={"n": 50, "symbol": "ETHUSDT"}).json()
    assert {s["symbol"] for s in eth_only} == {"ETH/USDT"}
    preds = client.get("/v1/crypto/ml-predictions/tail", params={"n": 1}).json()
    assert len(preds) == 1 and preds[0]["ml_prediction"]["predicted_rv_24h"] > 0


def test_model_info(client: TestClient) -> None:
    body = client.get("/v1/ml/model/info").json()
    assert body["model_loaded"] is True and body["model_name"]
    assert body["model_uri"] == "models:/crypto-predictor@champion"
    assert body["fallback"] is True and body["fallback_reason"]
    assert body["engine"] == "numpy"  # the HAR baseline


def test_reload_needs_api_key(client: TestClient) -> None:
    assert client.post("/v1/ml/model/reload").status_code == 401
    assert client.post("/v1/ml/model/reload", headers={"X-API-Key": "wrong"}).status_code == 401
    r = client.post("/v1/ml/model/reload", headers={"X-API-Key": "test-api-key"})
    # No champion registered in the test MLflow store: 503 with the reason, and the baseline keeps serving.
    assert r.status_code == 503
    assert "still serving" in r.json()["detail"]
    assert client.post("/v1/crypto/ml-signal").status_code == 200


def test_metrics_json_and_prometheus(client: TestClient) -> None:
    client.post("/v1/crypto/signal")
    body = client.get("/metrics").json()
    assert set(body) == SEED_METRICS_KEYS
    assert body["requests_total"] > 0 and body["signals_total"] > 0
    prom = client.get("/metrics/prometheus")
    assert prom.status_code == 200 and prom.headers["content-type"].startswith("text/plain")
    text = prom.text
    assert 'crypto_http_requests_total{method="POST",route="/v1/crypto/signal",status="200"}' in text
    assert "crypto_http_request_duration_seconds_bucket" in text
    assert 'crypto_predictions_total{adapter="rest",kind="heuristic"}' in text
    assert "crypto_model_info{" in text


@pytest.mark.parametrize(
    ("method", "url", "payload", "status", "needle"),
    [
        ("post", "/v1/crypto/signal", {"symbol": "BTC USDT!"}, 422, "pattern"),
        ("post", "/v1/crypto/signal", {"symbol": "ZZZZZZ"}, 400, "invalid symbol"),
        ("post", "/v1/crypto/signal", {"timeframe": "7h"}, 422, "Input should be"),
        ("post", "/v1/crypto/signal", {"limit": 5}, 422, "greater than or equal to 50"),
        ("post", "/v1/crypto/signal", {"limit": 100000}, 422, "less than or equal to 1000"),
        ("post", "/v1/crypto/signal", {"horizon_min": 0}, 422, "greater than or equal"),
        ("post", "/v1/crypto/signal", {"unknown": 1}, 422, "Extra inputs"),
        ("post", "/v1/crypto/ml-signal", {"include_heuristic": "maybe"}, 422, "valid boolean"),
        ("post", "/v1/crypto/ml-signal", {"exchange": "no such exchange"}, 422, "pattern"),
        ("get", "/v1/crypto/ohlcv?limit=abc", None, 422, "valid integer"),
        ("get", "/v1/crypto/ohlcv?timeframe=1y", None, 422, "Input should be"),
        ("get", "/v1/crypto/signals/compare?symbol=%00%00", None, 422, "pattern"),
        ("get", "/v1/crypto/signals/tail?n=0", None, 422, "greater than or equal to 1"),
        ("get", "/v1/crypto/ml-predictions/tail?n=100000", None, 422, "less than or equal to 1000"),
        ("get", "/v1/stream/predictions?symbols=NOPE", None, 400, "invalid symbol"),
        ("get", "/v1/dashboard/chart?points=0", None, 422, "greater than or equal to 1"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    client: TestClient, method: str, url: str, payload: dict | None, status: int, needle: str
) -> None:
    r = client.post(url, json=payload) if method == "post" else client.get(url)
    assert r.status_code == status, r.text
    assert needle in r.text


def test_malformed_json_and_oversized_body(client: TestClient) -> None:
    r = client.post("/v1/crypto/signal", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.text
    big = b'{"symbol": "' + b"A" * 20000 + b'"}'
    r = client.post("/v1/crypto/signal", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


def test_exchange_down_is_503_with_reason(tmp_path: Path) -> None:
    def down(*_: object) -> None:
        raise TimeoutError("binance GET /api/v3/klines timed out")

    svc = make_service(tmp_path, market_loader=down)
    with TestClient(create_app(svc, start_service=False)) as c:
        r = c.post("/v1/crypto/signal")
        assert r.status_code == 503
        assert "timed out" in r.json()["detail"]
        assert c.get("/health").status_code == 200  # health does not depend on the exchange
    svc.close()


def test_sse_stream_sends_prediction_events(client: TestClient) -> None:
    with client.stream("GET", "/v1/stream/predictions", params={"symbols": "BTCUSDT,ETHUSDT", "max_events": 2}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        text = "".join(r.iter_text())
    assert "event: hello" in text
    assert text.count("event: prediction") == 2
    import json

    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith('data: {"symbol"')]
    assert [e["symbol"] for e in events] == ["BTC/USDT", "ETH/USDT"]
    assert events[0]["ml_prediction"]["predicted_rv_24h"] > 0 and events[0]["processing_latency_ms"] > 0


def test_dashboard_and_local_assets(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "Research only" in page.text
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    js = client.get("/static/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200
    chart = client.get("/v1/dashboard/chart", params={"points": 8}).json()
    assert len(chart["candles"]) == len(chart["regimes"]) == 200
    assert chart["volatility"] and chart["source"] == "synthetic"


def test_openapi_lists_every_spec_endpoint(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/health",
        "/metrics",
        "/metrics/prometheus",
        "/v1/crypto/ohlcv",
        "/v1/crypto/signal",
        "/v1/crypto/ml-signal",
        "/v1/crypto/signals/compare",
        "/v1/crypto/signals/tail",
        "/v1/crypto/ml-predictions/tail",
        "/v1/ml/model/info",
        "/v1/ml/model/reload",
        "/v1/stream/predictions",
    ):
        assert path in paths, path


def test_seed_readme_examples_work_offline(client: TestClient) -> None:
    """The seed README's curl examples and GraphQL query, verbatim, on synthetic data."""
    signal = client.post("/v1/crypto/signal", json={"symbol": "BTCUSDT", "explain": True})
    ml = client.post("/v1/crypto/ml-signal", json={"symbol": "BTCUSDT", "include_heuristic": True})
    compare = client.get("/v1/crypto/signals/compare?symbol=BTCUSDT")
    for r in (signal, ml, compare):
        assert r.status_code == 200, r.text
        assert _no_nulls(r.json()) == []
    query = """query {
  health {
    status
    mlAvailable
  }
  modelInfo {
    modelLoaded
    modelVersion
  }
}"""
    data = client.post("/graphql", json={"query": query}).json()["data"]
    assert data["health"] == {"status": "ok", "mlAvailable": True}
    assert data["modelInfo"]["modelLoaded"] is True and data["modelInfo"]["modelVersion"]
