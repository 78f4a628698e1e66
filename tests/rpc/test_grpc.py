"""gRPC crypto.CryptoService: every RPC on a real server (free port), stream cancel, errors, health, reflection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from crypto_mlops.rpc.server import create_server, pb2, pb2_grpc
from crypto_mlops.service import CryptoService


@pytest.fixture(scope="module")
def channel(service: CryptoService) -> Iterator[grpc.Channel]:
    server, port = create_server(service, port=0)
    server.start()
    ch = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(ch).result(timeout=10)
    yield ch
    ch.close()
    server.stop(grace=1).wait()


@pytest.fixture(scope="module")
def stub(channel: grpc.Channel) -> Any:
    return pb2_grpc.CryptoServiceStub(channel)


def test_get_ohlcv(stub: Any) -> None:
    r = stub.GetOHLCV(pb2.OHLCVRequest(symbol="ETHUSDT", limit=80), timeout=30)
    assert r.symbol == "ETH/USDT" and r.rows == len(r.data) == 80
    assert r.source == "synthetic" and r.data[-1].time == r.candle_time
    assert r.data[-1].timestamp > 1_500_000_000_000


def test_generate_signal_with_explanation(stub: Any) -> None:
    r = stub.GenerateSignal(pb2.SignalRequest(symbol="BTCUSDT", explain=True), timeout=30)
    assert r.method == "heuristic" and r.horizon_min == 60 and r.timestamp.endswith("Z")
    assert 0 <= r.risk_score <= 1 and r.vol_regime in {"calm", "normal", "turbulent"}
    assert len(r.explanation.features_tail) == 5 and r.explanation.features_tail[-1].sma48 > 0


def test_generate_ml_prediction(stub: Any) -> None:
    r = stub.GenerateMLPrediction(pb2.MLPredictionRequest(include_heuristic=True), timeout=30)
    p = r.ml_prediction
    assert r.method == "ml" and r.model_version and p.model_type
    assert p.prediction > 0 and p.predicted_rv_24h > p.prediction and 0 < p.confidence <= 1
    assert p.prediction_timestamp.endswith("Z") and p.risk_level in {"low", "medium", "high"}
    assert r.HasField("heuristic_comparison")
    assert r.heuristic_comparison.heuristic_vol_regime in {"calm", "normal", "turbulent"}


def test_compare_signals(stub: Any) -> None:
    r = stub.CompareSignals(pb2.CompareSignalsRequest(symbol="BTCUSDT"), timeout=30)
    assert r.ml.confidence > 0 and r.ml.risk_level  # the seed failed on float(None) here
    assert r.comparison.ml_confidence == r.ml.confidence
    assert r.comparison.volatility_diff == pytest.approx(r.ml.predicted_volatility - r.heuristic.volatility)


def test_health_check(stub: Any) -> None:
    r = stub.HealthCheck(pb2.HealthCheckRequest(), timeout=10)
    assert r.status == "ok" and r.version and r.timestamp.endswith("Z")


def test_screener_defaults_to_the_followed_pairs(stub: Any, service: CryptoService) -> None:
    r = stub.Screener(pb2.ScreenerRequest(), timeout=60)
    rest = service.screener.screen()
    assert r.sort == "predicted_rv_24h" and [f.pair for f in r.forecasts] == [f.pair for f in rest.forecasts]
    assert sorted(f.pair for f in r.forecasts) == sorted(service.settings.pairs.split(","))
    assert len({f.predicted_rv_24h for f in r.forecasts}) == len(r.forecasts)  # each pair its own number
    for got, want in zip(r.forecasts, rest.forecasts, strict=True):
        assert got.predicted_rv_24h == pytest.approx(want.predicted_rv_24h) and got.model_name == want.model_name
        assert got.HasField("q10") and got.q10 < got.q50 < got.q90 and got.candle_time == want.candle_time
        assert got.volatility_regime in {"calm", "normal", "turbulent"} and 0 <= got.risk_score <= 1
    assert dict(r.skipped) == {}


def test_screener_with_symbols_and_sort(stub: Any) -> None:
    r = stub.Screener(pb2.ScreenerRequest(symbols=["ETH/USDT", "BTCUSDT"], sort="-risk_score"), timeout=60)
    assert [f.pair for f in r.forecasts] == sorted(
        (f.pair for f in r.forecasts), key=lambda p: -next(x.risk_score for x in r.forecasts if x.pair == p)
    )
    assert {f.pair for f in r.forecasts} == {"ETH/USDT", "BTCUSDT"}  # pairs come back as asked


@pytest.mark.parametrize(
    ("call", "request_", "needle"),
    [
        ("GetOHLCV", pb2.OHLCVRequest(symbol="???"), "invalid symbol"),
        ("GetOHLCV", pb2.OHLCVRequest(timeframe="2y"), "invalid timeframe"),
        ("GenerateSignal", pb2.SignalRequest(limit=5), "limit must be between"),
        ("GenerateSignal", pb2.SignalRequest(horizon_min=-1), "horizon_min"),
        ("GenerateMLPrediction", pb2.MLPredictionRequest(symbol="NOPE"), "invalid symbol"),
        ("CompareSignals", pb2.CompareSignalsRequest(limit=99999), "limit must be between"),
        ("Screener", pb2.ScreenerRequest(symbols=["BTC/USDT", "NOPE"]), "invalid symbol"),
        ("Screener", pb2.ScreenerRequest(sort="volume"), "sort must be one of"),
        ("Screener", pb2.ScreenerRequest(timeframe="2y"), "invalid timeframe"),
    ],
)
def test_invalid_arguments(stub: Any, call: str, request_: Any, needle: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        getattr(stub, call)(request_, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in err.value.details()


@pytest.mark.parametrize(
    ("request_", "needle"),
    [
        (pb2.StreamRequest(update_interval_ms=5), "update_interval_ms"),
        (pb2.StreamRequest(symbols=["BTCUSDT", "??"]), "invalid symbol"),
        (pb2.StreamRequest(max_updates=-1), "max_updates"),
    ],
)
def test_stream_prices_invalid_arguments(stub: Any, request_: Any, needle: str) -> None:
    with pytest.raises(grpc.RpcError) as err:
        next(iter(stub.StreamPrices(request_, timeout=10)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert needle in err.value.details()


def test_stream_prices_honours_interval_and_ends_on_cancel(stub: Any, service: CryptoService) -> None:
    stream = stub.StreamPrices(pb2.StreamRequest(symbols=["BTCUSDT", "ETH/USDT"], update_interval_ms=300))
    arrivals: list[float] = []
    updates = []
    for update in stream:
        arrivals.append(time.monotonic())
        updates.append(update)
        if len(updates) == 6:
            stream.cancel()
            break
    assert [u.symbol for u in updates] == ["BTC/USDT", "ETH/USDT"] * 3
    cycle_gaps = [arrivals[i + 2] - arrivals[i] for i in (0, 2)]
    assert all(0.25 <= gap < 2.0 for gap in cycle_gaps), cycle_gaps  # one cycle per 300 ms
    u = updates[0]
    assert u.price > 0 and u.volume_24h > 0 and u.regime in {"calm", "normal", "turbulent"}
    assert u.source == "synthetic" and u.timestamp > 1_500_000_000_000
    with pytest.raises(grpc.RpcError) as err:
        next(stream)
    assert err.value.code() == grpc.StatusCode.CANCELLED
    # The server's handler thread leaves its wait loop: no 'grpc' worker keeps streaming.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and _busy_grpc_workers() > 0:
        time.sleep(0.1)
    assert _busy_grpc_workers() == 0


def _busy_grpc_workers() -> int:
    """Server threads currently inside StreamPrices (their frames show the servicer's loop)."""
    import sys

    frames = sys._current_frames()
    return sum(1 for t in threading.enumerate() if t.name.startswith("grpc") and _in_stream(frames.get(t.ident or 0)))


def _in_stream(frame: Any) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "StreamPrices":
            return True
        frame = frame.f_back
    return False


def test_stream_prices_max_updates_ends_the_stream(stub: Any) -> None:
    updates = list(stub.StreamPrices(pb2.StreamRequest(update_interval_ms=100, max_updates=3), timeout=30))
    assert len(updates) == 3 and {u.symbol for u in updates} == {"BTC/USDT"}


def test_grpc_health_service(channel: grpc.Channel) -> None:
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", "crypto.CryptoService"):
        r = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
        assert r.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_service(channel: grpc.Channel) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    names = {s.name for r in responses for s in r.list_services_response.service}
    assert {"crypto.CryptoService", "grpc.health.v1.Health"} <= names
