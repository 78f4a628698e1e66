"""gRPC server: `crypto.CryptoService` over the in-process service layer, plus health and reflection.

Errors: `InvalidInput` -> INVALID_ARGUMENT, `DataUnavailable` -> UNAVAILABLE, both with the reason as
details. StreamPrices sends one PriceUpdate per symbol every `update_interval_ms` from cached candles
and stops as soon as the client cancels (the wait is woken by the RPC's termination callback).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from crypto_mlops import __version__
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.rpc.stubs import load
from crypto_mlops.service import MAX_LIMIT, MIN_LIMIT, CryptoService, get_service

log = logging.getLogger(__name__)
pb2, pb2_grpc = load()

SERVICE_NAME = "crypto.CryptoService"
DEFAULT_INTERVAL_MS = 1000
MIN_INTERVAL_MS = 100
MAX_STREAM_SYMBOLS = 10
T = TypeVar("T")


def _defaults(symbol: str, exchange: str, timeframe: str, limit: int) -> tuple[str, str, str, int]:
    limit = limit or 200
    if not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between {MIN_LIMIT} and {MAX_LIMIT}, got {limit}")
    return symbol or "BTCUSDT", exchange or "binance", timeframe or "1h", limit


def _call(context: grpc.ServicerContext, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except InvalidInput as exc:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    except DataUnavailable as exc:
        context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
    raise AssertionError("unreachable")  # context.abort raises


class CryptoServicer(pb2_grpc.CryptoServiceServicer):  # type: ignore[misc,name-defined]
    def __init__(self, service: CryptoService) -> None:
        self.service = service

    def GetOHLCV(self, request: Any, context: grpc.ServicerContext) -> Any:
        def run() -> Any:
            symbol, exchange, timeframe, limit = _defaults(
                request.symbol, request.exchange, request.timeframe, request.limit
            )
            r = self.service.ohlcv(symbol, timeframe, limit, exchange)
            return pb2.OHLCVResponse(
                symbol=r.symbol,
                exchange=r.exchange,
                timeframe=r.timeframe,
                rows=r.rows,
                source=r.source,
                candle_time=r.candle_time,
                data=[
                    pb2.OHLCVData(
                        timestamp=b.ts,
                        open=b.open,
                        high=b.high,
                        low=b.low,
                        close=b.close,
                        volume=b.volume,
                        time=b.time,
                    )
                    for b in r.data
                ],
            )

        return _call(context, run)

    def GenerateSignal(self, request: Any, context: grpc.ServicerContext) -> Any:
        def run() -> Any:
            symbol, exchange, timeframe, limit = _defaults(
                request.symbol, request.exchange, request.timeframe, request.limit
            )
            horizon = request.horizon_min or 60
            if not 1 <= horizon <= 10080:
                raise InvalidInput(f"horizon_min must be between 1 and 10080, got {horizon}")
            r = self.service.signal(symbol, timeframe, limit, horizon, request.explain, exchange, adapter="grpc")
            explanation = None
            if r.explain is not None:
                e = r.explain
                explanation = pb2.SignalExplanation(
                    nowcast_ret=e.nowcast_ret,
                    vol=e.vol,
                    vol_regime=e.vol_regime,
                    risk_score=e.risk_score,
                    features_tail=[
                        pb2.FeatureData(
                            time=f.time, close=f.close, ret=f.ret, vol24=f.vol24, sma12=f.sma12, sma48=f.sma48
                        )
                        for f in e.features_tail
                    ],
                )
            return pb2.SignalResponse(
                symbol=r.symbol,
                horizon_min=r.horizon_min,
                risk_score=r.risk_score,
                nowcast_ret=r.nowcast_ret,
                vol_regime=r.vol_regime,
                timestamp=r.timestamp,
                method=r.method,
                explanation=explanation,
                vol=r.vol,
                risk_level=r.risk_level,
                source=r.source,
                candle_time=r.candle_time,
            )

        return _call(context, run)

    def GenerateMLPrediction(self, request: Any, context: grpc.ServicerContext) -> Any:
        def run() -> Any:
            symbol, exchange, timeframe, limit = _defaults(
                request.symbol, request.exchange, request.timeframe, request.limit
            )
            r = self.service.ml_signal(symbol, timeframe, limit, request.include_heuristic, exchange, adapter="grpc")
            p = r.ml_prediction
            comparison = None
            if r.heuristic_comparison is not None:
                hc = r.heuristic_comparison
                comparison = pb2.HeuristicComparison(
                    heuristic_risk_score=hc.heuristic_risk_score,
                    heuristic_vol_regime=hc.heuristic_vol_regime,
                    ml_vs_heuristic=pb2.MLVsHeuristic(
                        volatility_diff=hc.ml_vs_heuristic.volatility_diff,
                        regime_match=hc.ml_vs_heuristic.regime_match,
                    ),
                )
            return pb2.MLPredictionResponse(
                symbol=r.symbol,
                timestamp=r.timestamp,
                method=r.method,
                model_version=r.model_version,
                source=r.source,
                candle_time=r.candle_time,
                heuristic_comparison=comparison,
                ml_prediction=pb2.MLPrediction(
                    prediction=p.prediction,
                    current_volatility=p.current_volatility,
                    volatility_regime=p.volatility_regime,
                    risk_level=p.risk_level,
                    confidence=p.confidence,
                    prediction_timestamp=p.prediction_timestamp,
                    predicted_rv_24h=p.predicted_rv_24h,
                    predicted_volatility=p.predicted_volatility,
                    model_name=p.model_name,
                    model_version=p.model_version,
                    model_type=p.model_type,
                    source=p.source,
                ),
            )

        return _call(context, run)

    def CompareSignals(self, request: Any, context: grpc.ServicerContext) -> Any:
        def run() -> Any:
            symbol, exchange, timeframe, limit = _defaults(
                request.symbol, request.exchange, request.timeframe, request.limit
            )
            c = self.service.compare(symbol, timeframe, limit, exchange)
            return pb2.CompareSignalsResponse(
                symbol=c.symbol,
                timestamp=c.timestamp,
                source=c.source,
                candle_time=c.candle_time,
                heuristic=pb2.HeuristicSignal(
                    risk_score=c.heuristic.risk_score,
                    vol_regime=c.heuristic.vol_regime,
                    volatility=c.heuristic.volatility,
                    risk_level=c.heuristic.risk_level,
                ),
                ml=pb2.MLSignal(
                    predicted_volatility=c.ml.predicted_volatility,
                    vol_regime=c.ml.vol_regime,
                    confidence=c.ml.confidence,
                    risk_level=c.ml.risk_level,
                    model_version=c.ml.model_version,
                ),
                comparison=pb2.SignalComparison(
                    volatility_diff=c.comparison.volatility_diff,
                    regime_agreement=c.comparison.regime_agreement,
                    ml_confidence=c.comparison.ml_confidence,
                ),
            )

        return _call(context, run)

    def HealthCheck(self, request: Any, context: grpc.ServicerContext) -> Any:
        h = self.service.health()
        return pb2.HealthCheckResponse(
            status=h.status,
            ml_available=h.ml_available,
            timestamp=h.timestamp,
            version=__version__,
            model_version=h.model_version or "",
            model_fallback=h.model_fallback,
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

        done = threading.Event()
        context.add_callback(done.set)  # fires on cancel, deadline or normal end
        sent = 0
        while not done.is_set():
            for symbol in symbols:
                try:
                    update = self.service.price_update(symbol, timeframe)
                except (InvalidInput, DataUnavailable) as exc:
                    log.warning("StreamPrices: skipping %s this cycle: %s", symbol, exc)
                    continue
                yield pb2.PriceUpdate(**update)
                sent += 1
                if request.max_updates and sent >= request.max_updates:
                    return
            done.wait(interval_ms / 1000.0)


def create_server(
    service: CryptoService | None = None, host: str = "127.0.0.1", port: int = 50051, max_workers: int = 10
) -> tuple[grpc.Server, int]:
    """Build (not start) the server; returns it with the bound port (pass port=0 for a free one)."""
    svc = service or get_service()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="grpc"))
    pb2_grpc.add_CryptoServiceServicer_to_server(CryptoServicer(svc), server)

    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    reflection.enable_server_reflection(
        (
            pb2.DESCRIPTOR.services_by_name["CryptoService"].full_name,
            reflection.SERVICE_NAME,
            health.SERVICE_NAME,
        ),
        server,
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise RuntimeError(f"could not bind gRPC server to {host}:{port}")
    return server, bound


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
