"""Query and Mutation of the seed's GraphQL API (SPEC-SEED §2): each resolver is one service call."""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry.types import Info

from crypto_mlops.gql.calls import resolve, resolve_answer
from crypto_mlops.gql.inputs import MLSignalInput, OHLCVInput, SignalInput
from crypto_mlops.gql.types import (
    ForecastHistory,
    HealthStatus,
    MLSignal,
    ModelInfo,
    OHLCVResponse,
    Pairs,
    ScreenerResult,
    Signal,
    SignalComparison,
)
from crypto_mlops.service.answers import CompareArgs, MLArgs, SignalArgs
from crypto_mlops.service.forecast_history import DEFAULT_PAGE

ADAPTER = "graphql"  # how the service counts and records our signals


@strawberry.type
class Query:
    @strawberry.field
    async def health(self, info: Info) -> HealthStatus:
        return await resolve(info, HealthStatus, lambda s: s.health())

    @strawberry.field
    async def model_info(self, info: Info, symbol: str | None = None) -> ModelInfo:
        return await resolve(info, ModelInfo, lambda s: s.model_info(symbol))

    @strawberry.field
    async def ohlcv_data(self, info: Info, input: OHLCVInput | None = None) -> OHLCVResponse:
        req = input or OHLCVInput()
        return await resolve(info, OHLCVResponse, lambda s: s.ohlcv(**req.args()))

    @strawberry.field
    async def compare_signals(self, info: Info, input: OHLCVInput | None = None) -> SignalComparison:
        req = input or OHLCVInput()
        args = CompareArgs(**req.args())
        return await resolve_answer(
            info, SignalComparison, lambda a: a.lookup_compare(args), lambda a: a.compare(args), ADAPTER
        )

    @strawberry.field(description="Every listed pair (default: the PAIRS setting) with its forecast, side by side.")
    async def screener(
        self, info: Info, symbols: str | None = None, sort: str = "predicted_rv_24h", timeframe: str | None = None
    ) -> ScreenerResult:
        return await resolve(info, ScreenerResult, lambda s: s.screener.screen(symbols, sort, timeframe))

    @strawberry.field(description="The pairs the system follows (PAIRS), normalized.")
    async def pairs(self, info: Info) -> Pairs:
        return await resolve(info, Pairs, lambda s: s.screener.pairs())

    @strawberry.field(
        description="A pair's point-in-time RV24 forecast for every cached candle from `from` to `to`, oldest "
        "first, `limit` per page; pass `nextCursor` as `cursor` for the next page. No look-ahead."
    )
    async def forecasts(
        self,
        info: Info,
        symbol: str | None = None,
        start: Annotated[str | None, strawberry.argument(name="from")] = None,
        to: str | None = None,
        limit: int = DEFAULT_PAGE,
        cursor: str | None = None,
        model: str | None = None,
        timeframe: str | None = None,
    ) -> ForecastHistory:
        return await resolve(
            info, ForecastHistory, lambda s: s.forecast_history.page(symbol, start, to, limit, cursor, model, timeframe)
        )


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def generate_signal(self, info: Info, input: SignalInput | None = None) -> Signal:
        req = input or SignalInput()
        args = SignalArgs(**req.args())
        return await resolve_answer(
            info, Signal, lambda a: a.lookup_signal(args), lambda a: a.signal(args, ADAPTER), ADAPTER
        )

    @strawberry.mutation
    async def generate_ml_signal(self, info: Info, input: MLSignalInput | None = None) -> MLSignal:
        req = input or MLSignalInput()
        args = MLArgs(**req.args())
        return await resolve_answer(
            info, MLSignal, lambda a: a.lookup_ml_signal(args), lambda a: a.ml_signal(args, ADAPTER), ADAPTER
        )
