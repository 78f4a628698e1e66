"""gRPC under load: open price streams cannot starve health checks and unary calls; details stay short."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crypto_mlops.rpc.server import create_server, pb2, pb2_grpc
from crypto_mlops.service import CryptoService


@pytest.fixture
def channel(service: CryptoService) -> Iterator[grpc.Channel]:
    server, port = create_server(service, port=0)  # the settings' budget: 10 unary workers, 8 streams
    server.start()
    ch = grpc.insecure_channel(f"127.0.0.1:{port}")
    grpc.channel_ready_future(ch).result(timeout=10)
    yield ch
    ch.close()
    server.stop(grace=0).wait()


def test_twenty_open_streams_leave_health_and_unary_calls_answering(channel: grpc.Channel) -> None:
    stub: Any = pb2_grpc.CryptoServiceStub(channel)
    health = health_pb2_grpc.HealthStub(channel)
    streams = [stub.StreamPrices(pb2.StreamRequest(symbols=["BTCUSDT"], update_interval_ms=200)) for _ in range(20)]
    try:
        opened, refused = 0, 0
        for call in streams:
            try:
                next(call)
                opened += 1
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, exc
                assert "too many open price streams" in (exc.details() or "")
                refused += 1
        assert opened == 8 and refused == 12
        for _ in range(5):
            started = time.perf_counter()
            answer = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING
            assert stub.HealthCheck(pb2.HealthCheckRequest(), timeout=2).status
            assert stub.GetOHLCV(pb2.OHLCVRequest(symbol="BTCUSDT", limit=60), timeout=5).rows == 60
            assert time.perf_counter() - started < 2
    finally:
        for call in streams:
            call.cancel()


def test_closed_streams_give_their_slot_back(channel: grpc.Channel) -> None:
    stub: Any = pb2_grpc.CryptoServiceStub(channel)
    for _ in range(3):
        calls = [stub.StreamPrices(pb2.StreamRequest(symbols=["BTCUSDT"], update_interval_ms=200)) for _ in range(8)]
        for call in calls:
            next(call)
        for call in calls:
            call.cancel()
        time.sleep(0.5)  # the server wakes the cancelled streams within one interval
    last = stub.StreamPrices(pb2.StreamRequest(symbols=["BTCUSDT"], max_updates=1), timeout=5)
    assert len(list(last)) == 1


def test_a_huge_invalid_symbol_is_invalid_argument_with_short_details(channel: grpc.Channel) -> None:
    stub: Any = pb2_grpc.CryptoServiceStub(channel)
    huge = "Z" * 3_000_000
    with pytest.raises(grpc.RpcError) as err:
        stub.GetOHLCV(pb2.OHLCVRequest(symbol=huge), timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(err.value.details() or "") < 1000
    with pytest.raises(grpc.RpcError) as err:
        list(stub.StreamPrices(pb2.StreamRequest(symbols=[huge]), timeout=10))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert len(err.value.details() or "") < 1000
