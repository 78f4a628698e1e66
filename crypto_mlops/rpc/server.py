"""gRPC server: `crypto.CryptoService` over the in-process service layer, plus health and reflection.

Each unary RPC is one service call whose result is mapped to its response message by field name
(`rpc.mapping`). The service checks the inputs; this module only fills proto3 defaults (empty or 0 =
the seed's defaults) and translates errors: `InvalidInput` -> INVALID_ARGUMENT, `DataUnavailable` ->
UNAVAILABLE, both with the reason as details. StreamPrices sends one PriceUpdate per symbol every
`update_interval_ms` from cached candles and stops as soon as the client cancels (the wait is woken
by the RPC's termination callback).

Budget: the server has GRPC_WORKERS threads for unary calls and health checks plus GRPC_MAX_STREAMS for
price streams; a stream beyond that cap is refused at once with RESOURCE_EXHAUSTED, so open streams can
never take the threads the other calls need. Error details are clipped: they never echo a huge input.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from pydantic import BaseModel

from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.rpc.mapping import M, to_message
from crypto_mlops.rpc.stubs import load
from crypto_mlops.service import CryptoService, get_service
from crypto_mlops.service.answers import Answer, CompareArgs, MLArgs, SignalArgs, answers_for
from crypto_mlops.service.limits import clip

log = logging.getLogger(__name__)
pb2, pb2_grpc = load()

SERVICE_NAME = "crypto.CryptoService"
DEFAULT_INTERVAL_MS = 1000
MIN_INTERVAL_MS = 100
MAX_STREAM_SYMBOLS = 10
T = TypeVar("T")


def _market_args(request: Any) -> tuple[str, str, int, str]:
    """(symbol, timeframe, limit, exchange) of a request; proto3 zero values mean the seed's defaults."""
    return request.symbol or "BTCUSDT", request.timeframe or "1h", request.limit or 200, request.exchange or "binance"


def _call(context: grpc.ServicerContext, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except InvalidInput as exc:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, clip(str(exc)))
    except DataUnavailable as exc:
        context.abort(grpc.StatusCode.UNAVAILABLE, clip(str(exc)))
    raise AssertionError("unreachable")  # context.abort raises


def _respond(context: grpc.ServicerContext, message_type: type[M], fn: Callable[[], BaseModel]) -> M:
    """Run a service call and answer with its result as `message_type` (errors become status codes)."""
    return _call(context, lambda: to_message(fn(), message_type))


def _answer(context: grpc.ServicerContext, message_type: type[M], fn: Callable[[], tuple[Answer[Any], str]]) -> M:
    """Answer from `service.answers`: the message is mapped once per answer, then copied and stamped."""
    answer, stamp = _call(context, fn)
    mapped = answer.encoded.get(message_type.DESCRIPTOR.full_name)
    if not isinstance(mapped, message_type):
        mapped = answer.encoded[message_type.DESCRIPTOR.full_name] = to_message(answer.result, message_type)
    message = message_type()
    message.CopyFrom(mapped)
    message.timestamp = stamp  # the result's only per-request field
    return message


class StreamBudget:
    """At most `limit` open streams; `try_open` never waits (a refused stream is told at once)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(limit)
        self._lock = threading.Lock()
        self.open = 0
        self.refused = 0

    def try_open(self) -> bool:
        if self._slots.acquire(blocking=False):
            with self._lock:
                self.open += 1
            return True
        with self._lock:
            self.refused += 1
        return False

    def close(self) -> None:
        with self._lock:
            self.open -= 1
        self._slots.release()


class CryptoServicer(pb2_grpc.CryptoServiceServicer):  # type: ignore[misc,name-defined]
    def __init__(self, service: CryptoService, max_streams: int = 8) -> None:
        self.service = service
        self.streams = StreamBudget(max_streams)

    def GetOHLCV(self, request: Any, context: grpc.ServicerContext) -> Message:
        return _respond(context, pb2.OHLCVResponse, lambda: self.service.ohlcv(*_market_args(request)))

    def GenerateSignal(self, request: Any, context: grpc.ServicerContext) -> Message:
        symbol, timeframe, limit, exchange = _market_args(request)
        args = SignalArgs(symbol, timeframe, limit, request.horizon_min or 60, request.explain, exchange)
        return _answer(context, pb2.SignalResponse, lambda: answers_for(self.service).signal(args, "grpc"))

    def GenerateMLPrediction(self, request: Any, context: grpc.ServicerContext) -> Message:
        symbol, timeframe, limit, exchange = _market_args(request)
        args = MLArgs(symbol, timeframe, limit, request.include_heuristic, exchange)
        return _answer(context, pb2.MLPredictionResponse, lambda: answers_for(self.service).ml_signal(args, "grpc"))

    def CompareSignals(self, request: Any, context: grpc.ServicerContext) -> Message:
        args = CompareArgs(*_market_args(request))
        return _answer(context, pb2.CompareSignalsResponse, lambda: answers_for(self.service).compare(args))

    def HealthCheck(self, request: Any, context: grpc.ServicerContext) -> Message:
        return _respond(context, pb2.HealthCheckResponse, self.service.health)

    def Screener(self, request: Any, context: grpc.ServicerContext) -> Message:
        symbols = ",".join(request.symbols) or None  # no symbols: the PAIRS setting
        return _respond(
            context,
            pb2.ScreenerResponse,
            lambda: self.service.screener.screen(
                symbols, request.sort or "predicted_rv_24h", request.timeframe or None, request.exchange or None
            ),
        )

    def StreamPrices(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        interval_ms = request.update_interval_ms or DEFAULT_INTERVAL_MS
        if interval_ms < MIN_INTERVAL_MS:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"update_interval_ms must be 0 (default {DEFAULT_INTERVAL_MS}) or >= {MIN_INTERVAL_MS}",
            )
        if request.max_updates < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "max_updates must be >= 0")
        raw_symbols = list(request.symbols) or ["BTCUSDT"]
        if len(raw_symbols) > MAX_STREAM_SYMBOLS:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_STREAM_SYMBOLS} symbols per stream")
        timeframe = request.timeframe or None
        # Validate every symbol before the first message, so a typo fails the call instead of the stream.
        symbols = _call(context, lambda: [self.service.resolve_key(s, timeframe).symbol for s in raw_symbols])

        if not self.streams.try_open():
            context.abort(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"too many open price streams (at most {self.streams.limit}, GRPC_MAX_STREAMS); retry later",
            )
        try:
            yield from self._price_updates(request, context, symbols, timeframe, interval_ms)
        finally:
            self.streams.close()

    def _price_updates(
        self, request: Any, context: grpc.ServicerContext, symbols: list[str], timeframe: str | None, interval_ms: int
    ) -> Iterator[Any]:
        done = threading.Event()
        context.add_callback(done.set)  # fires on cancel, deadline or normal end
        sent = 0
        while not done.is_set():
            for symbol in symbols:
                try:
                    update = self.service.price_update(symbol, timeframe)
                except (InvalidInput, DataUnavailable) as exc:
                    log.warning("StreamPrices: skipping %s this cycle: %s", symbol, clip(str(exc), 120))
                    continue
                yield pb2.PriceUpdate(**update)
                sent += 1
                if request.max_updates and sent >= request.max_updates:
                    return
            done.wait(interval_ms / 1000.0)


def create_server(
    service: CryptoService | None = None,
    host: str = "127.0.0.1",
    port: int = 50051,
    max_workers: int | None = None,
    max_streams: int | None = None,
) -> tuple[grpc.Server, int]:
    """Build (not start) the server; returns it with the bound port (pass port=0 for a free one).

    `max_workers` (GRPC_WORKERS) threads serve unary and health calls, `max_streams` (GRPC_MAX_STREAMS)
    more serve price streams.
    """
    svc = service or get_service()
    workers = max_workers or svc.settings.grpc_workers
    streams = max_streams or svc.settings.grpc_max_streams
    pool = futures.ThreadPoolExecutor(max_workers=workers + streams, thread_name_prefix="grpc")
    # gRPC binds with SO_REUSEPORT by default: a second server on a taken port would start without a word
    # and share the calls with the first (a stale process, another model). A taken port must fail.
    server = grpc.server(pool, options=[("grpc.so_reuseport", 0)])
    pb2_grpc.add_CryptoServiceServicer_to_server(CryptoServicer(svc, streams), server)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    _serving_when_ready(svc, health_servicer)

    reflection.enable_server_reflection(
        (
            pb2.DESCRIPTOR.services_by_name["CryptoService"].full_name,
            reflection.SERVICE_NAME,
            health.SERVICE_NAME,
        ),
        server,
    )
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if bound == 0:
        raise RuntimeError(f"could not bind gRPC server to {host}:{port}")
    return server, bound


def _serving_when_ready(svc: CryptoService, servicer: health.HealthServicer) -> None:
    """grpc.health.v1 says NOT_SERVING until the service is ready (model loaded, default candles cached)."""

    def set_all(status: int) -> None:
        for name in ("", SERVICE_NAME):
            servicer.set(name, status)

    if svc.ready:
        set_all(health_pb2.HealthCheckResponse.SERVING)
        return
    set_all(health_pb2.HealthCheckResponse.NOT_SERVING)

    def flip() -> None:
        svc.wait_ready()
        set_all(health_pb2.HealthCheckResponse.SERVING)

    threading.Thread(target=flip, name="grpc-health-ready", daemon=True).start()


def serve(service: CryptoService | None = None, host: str = "127.0.0.1", port: int = 50051) -> None:
    """Run until interrupted (used by `crypto-mlops serve grpc`)."""
    svc = service or get_service()
    svc.start()
    server, bound = create_server(svc, host, port)
    server.start()
    # SIGTERM (process supervisors) stops like Ctrl-C: in-flight calls get 2 s, streams are cancelled.
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=2))
    log.info("gRPC %s listening on %s:%s", SERVICE_NAME, host, bound)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop(grace=2).wait()
        svc.close()
