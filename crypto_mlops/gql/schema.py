"""Strawberry schema: the seed's GraphQL API (SPEC-SEED §2) over the in-process service.

Field names are the seed's (camelCased by strawberry); every field is filled. Failures are GraphQL
errors with a clear message and `extensions.code` (BAD_USER_INPUT / UNAVAILABLE); the seed's `error`
fields are kept for compatibility and stay null.
Change from the seed: `OHLCVData.timestamp` is a Float (epoch ms does not fit GraphQL's 32-bit Int).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar, cast

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info

from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.service import MAX_LIMIT, MIN_LIMIT, CryptoService

T = TypeVar("T")


async def _call(info: Info, fn: Callable[[CryptoService], T]) -> T:
    service: CryptoService = info.context["service"]
    try:
        return await asyncio.to_thread(fn, service)
    except InvalidInput as exc:
        raise GraphQLError(str(exc), extensions={"code": "BAD_USER_INPUT"}) from exc
    except DataUnavailable as exc:
        raise GraphQLError(str(exc), extensions={"code": "UNAVAILABLE"}) from exc


def _check_limit(limit: int) -> None:
    if not MIN_LIMIT <= limit <= MAX_LIMIT:
        raise GraphQLError(
            f"limit must be between {MIN_LIMIT} and {MAX_LIMIT}, got {limit}",
            extensions={"code": "BAD_USER_INPUT"},
        )


# -- types ----------------------------------------------------------------------------------------
@strawberry.type
class HealthStatus:
    status: str
    ml_available: bool
    timestamp: str
    version: str
    model_loaded: bool
    model_version: str | None
    data_source: str


@strawberry.type
class ModelInfo:
    model_loaded: bool
    model_version: str | None
    model_name: str
    mlflow_uri: str
    sequence_length: int | None
    model_type: str | None
    model_uri: str
    fallback: bool
    fallback_reason: str | None
    load_time: str | None
    metrics: JSON
    backtest: JSON | None


@strawberry.type
class OHLCVData:
    timestamp: float = strawberry.field(description="Candle open time, epoch milliseconds.")
    open: float
    high: float
    low: float
    close: float
    volume: float
    time: str


@strawberry.type
class OHLCVResponse:
    symbol: str
    exchange: str
    timeframe: str
    rows: int
    data: list[OHLCVData]
    source: str
    candle_time: str
    error: str | None = None


@strawberry.type
class FeatureData:
    time: str
    close: float
    ret: float
    vol24: float
    sma12: float
    sma48: float


@strawberry.type
class SignalExplanation:
    nowcast_ret: float
    vol: float
    vol_regime: str
    risk_score: float
    features_tail: list[FeatureData]


@strawberry.type
class Signal:
    symbol: str
    horizon_min: int
    risk_score: float
    nowcast_ret: float
    vol_regime: str
    timestamp: str
    method: str
    explanation: SignalExplanation | None
    vol: float
    risk_level: str
    source: str
    candle_time: str
    error: str | None = None


@strawberry.type
class MLPrediction:
    prediction: float
    current_volatility: float
    volatility_regime: str
    risk_level: str
    confidence: float
    prediction_timestamp: str
    predicted_rv_24h: float
    predicted_volatility: float
    model_name: str
    model_type: str
    source: str
    error: str | None = None


@strawberry.type
class HeuristicComparison:
    heuristic_risk_score: float
    heuristic_vol_regime: str
    volatility_diff: float
    regime_match: bool


@strawberry.type
class MLSignal:
    symbol: str
    timestamp: str
    method: str
    model_version: str
    ml_prediction: MLPrediction
    heuristic_comparison: HeuristicComparison | None
    source: str
    candle_time: str
    error: str | None = None


@strawberry.type
class HeuristicSummary:
    risk_score: float
    vol_regime: str
    volatility: float
    risk_level: str


@strawberry.type
class MLSummary:
    predicted_volatility: float
    vol_regime: str
    confidence: float
    risk_level: str
    model_version: str


@strawberry.type
class ComparisonDetail:
    volatility_diff: float
    regime_agreement: bool
    ml_confidence: float


@strawberry.type
class SignalComparison:
    """The seed's flat fields (its type existed but was never exposed) plus the REST-shaped nested ones."""

    symbol: str
    timestamp: str
    heuristic_risk_score: float
    heuristic_vol_regime: str
    heuristic_volatility: float
    ml_predicted_volatility: float
    ml_vol_regime: str
    ml_confidence: float
    ml_risk_level: str
    volatility_diff: float
    regime_agreement: bool
    heuristic: HeuristicSummary
    ml: MLSummary
    comparison: ComparisonDetail
    source: str
    candle_time: str
    error: str | None = None


# -- inputs ---------------------------------------------------------------------------------------
@strawberry.input
class OHLCVInput:
    symbol: str = "BTCUSDT"
    exchange: str = "binance"
    timeframe: str = "1h"
    limit: int = 200


@strawberry.input
class SignalInput:
    symbol: str = "BTCUSDT"
    exchange: str = "binance"
    timeframe: str = "1h"
    limit: int = 200
    horizon_min: int = 60
    explain: bool = True


@strawberry.input
class MLSignalInput:
    symbol: str = "BTCUSDT"
    exchange: str = "binance"
    timeframe: str = "1h"
    limit: int = 200
    include_heuristic: bool = True


# -- resolvers ------------------------------------------------------------------------------------
@strawberry.type
class Query:
    @strawberry.field
    async def health(self, info: Info) -> HealthStatus:
        h = await _call(info, lambda s: s.health())
        return HealthStatus(
            status=h.status,
            ml_available=h.ml_available,
            timestamp=h.timestamp,
            version=h.version,
            model_loaded=h.model_loaded,
            model_version=h.model_version,
            data_source=h.data_source,
        )

    @strawberry.field
    async def model_info(self, info: Info) -> ModelInfo:
        m = await _call(info, lambda s: s.model_info())
        return ModelInfo(
            model_loaded=m.model_loaded,
            model_version=m.model_version,
            model_name=m.model_name,
            mlflow_uri=m.mlflow_uri,
            sequence_length=m.sequence_length,
            model_type=m.model_type,
            model_uri=m.model_uri,
            fallback=m.fallback,
            fallback_reason=m.fallback_reason,
            load_time=m.load_time,
            metrics=cast(JSON, m.metrics),
            backtest=cast(JSON, m.backtest) if m.backtest is not None else None,
        )

    @strawberry.field
    async def ohlcv_data(self, info: Info, input: OHLCVInput | None = None) -> OHLCVResponse:
        req = input or OHLCVInput()
        _check_limit(req.limit)
        r = await _call(info, lambda s: s.ohlcv(req.symbol, req.timeframe, req.limit, req.exchange))
        return OHLCVResponse(
            symbol=r.symbol,
            exchange=r.exchange,
            timeframe=r.timeframe,
            rows=r.rows,
            source=r.source,
            candle_time=r.candle_time,
            data=[
                OHLCVData(
                    timestamp=float(b.ts),
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

    @strawberry.field
    async def compare_signals(self, info: Info, input: OHLCVInput | None = None) -> SignalComparison:
        req = input or OHLCVInput()
        _check_limit(req.limit)
        c = await _call(info, lambda s: s.compare(req.symbol, req.timeframe, req.limit, req.exchange))
        return SignalComparison(
            symbol=c.symbol,
            timestamp=c.timestamp,
            source=c.source,
            candle_time=c.candle_time,
            heuristic_risk_score=c.heuristic.risk_score,
            heuristic_vol_regime=c.heuristic.vol_regime,
            heuristic_volatility=c.heuristic.volatility,
            ml_predicted_volatility=c.ml.predicted_volatility,
            ml_vol_regime=c.ml.vol_regime,
            ml_confidence=c.ml.confidence,
            ml_risk_level=c.ml.risk_level,
            volatility_diff=c.comparison.volatility_diff,
            regime_agreement=c.comparison.regime_agreement,
            heuristic=HeuristicSummary(
                risk_score=c.heuristic.risk_score,
                vol_regime=c.heuristic.vol_regime,
                volatility=c.heuristic.volatility,
                risk_level=c.heuristic.risk_level,
            ),
            ml=MLSummary(
                predicted_volatility=c.ml.predicted_volatility,
                vol_regime=c.ml.vol_regime,
                confidence=c.ml.confidence,
                risk_level=c.ml.risk_level,
                model_version=c.ml.model_version,
            ),
            comparison=ComparisonDetail(
                volatility_diff=c.comparison.volatility_diff,
                regime_agreement=c.comparison.regime_agreement,
                ml_confidence=c.comparison.ml_confidence,
            ),
        )


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def generate_signal(self, info: Info, input: SignalInput | None = None) -> Signal:
        req = input or SignalInput()
        _check_limit(req.limit)
        if not 1 <= req.horizon_min <= 10080:
            raise GraphQLError("horizonMin must be between 1 and 10080", extensions={"code": "BAD_USER_INPUT"})
        r = await _call(
            info,
            lambda s: s.signal(
                req.symbol,
                req.timeframe,
                req.limit,
                req.horizon_min,
                req.explain,
                req.exchange,
                adapter="graphql",
            ),
        )
        explanation = None
        if r.explain is not None:
            e = r.explain
            explanation = SignalExplanation(
                nowcast_ret=e.nowcast_ret,
                vol=e.vol,
                vol_regime=e.vol_regime,
                risk_score=e.risk_score,
                features_tail=[
                    FeatureData(time=f.time, close=f.close, ret=f.ret, vol24=f.vol24, sma12=f.sma12, sma48=f.sma48)
                    for f in e.features_tail
                ],
            )
        return Signal(
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

    @strawberry.mutation
    async def generate_ml_signal(self, info: Info, input: MLSignalInput | None = None) -> MLSignal:
        req = input or MLSignalInput()
        _check_limit(req.limit)
        r = await _call(
            info,
            lambda s: s.ml_signal(
                req.symbol, req.timeframe, req.limit, req.include_heuristic, req.exchange, adapter="graphql"
            ),
        )
        p = r.ml_prediction
        comparison = None
        if r.heuristic_comparison is not None:
            hc = r.heuristic_comparison
            comparison = HeuristicComparison(
                heuristic_risk_score=hc.heuristic_risk_score,
                heuristic_vol_regime=hc.heuristic_vol_regime,
                volatility_diff=hc.ml_vs_heuristic.volatility_diff,
                regime_match=hc.ml_vs_heuristic.regime_match,
            )
        return MLSignal(
            symbol=r.symbol,
            timestamp=r.timestamp,
            method=r.method,
            model_version=r.model_version,
            source=r.source,
            candle_time=r.candle_time,
            heuristic_comparison=comparison,
            ml_prediction=MLPrediction(
                prediction=p.prediction,
                current_volatility=p.current_volatility,
                volatility_regime=p.volatility_regime,
                risk_level=p.risk_level,
                confidence=p.confidence,
                prediction_timestamp=p.prediction_timestamp,
                predicted_rv_24h=p.predicted_rv_24h,
                predicted_volatility=p.predicted_volatility,
                model_name=p.model_name,
                model_type=p.model_type,
                source=p.source,
            ),
        )


EXPECTED_CODES = {"BAD_USER_INPUT", "UNAVAILABLE"}


class CryptoSchema(strawberry.Schema):
    """Logs only unexpected errors: bad input and upstream outages are the caller's answer, not a bug."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = [e for e in errors if (e.extensions or {}).get("code") not in EXPECTED_CODES]
        if unexpected:
            super().process_errors(unexpected, execution_context)


schema = CryptoSchema(query=Query, mutation=Mutation)


def context_for(service: CryptoService) -> dict[str, Any]:
    return {"service": service}
