"""GraphQL input types of the seed (SPEC-SEED §2); omitted fields take the seed's defaults.

The signal inputs extend OHLCVInput (the market every call reads); GraphQL sees three flat input types.
`args()` gives an input's values as the keyword arguments of its `CryptoService` call.
"""

from __future__ import annotations

from typing import TypedDict

import strawberry


class MarketArgs(TypedDict):
    symbol: str
    timeframe: str
    limit: int
    exchange: str


class SignalArgs(MarketArgs):
    horizon_min: int
    explain: bool


class MLSignalArgs(MarketArgs):
    include_heuristic: bool


@strawberry.input
class OHLCVInput:
    symbol: str = "BTCUSDT"
    exchange: str = "binance"
    timeframe: str = "1h"
    limit: int = 200

    def args(self) -> MarketArgs:
        return MarketArgs(symbol=self.symbol, timeframe=self.timeframe, limit=self.limit, exchange=self.exchange)


@strawberry.input
class SignalInput(OHLCVInput):
    horizon_min: int = 60
    explain: bool = True

    def args(self) -> SignalArgs:
        return SignalArgs(**super().args(), horizon_min=self.horizon_min, explain=self.explain)


@strawberry.input
class MLSignalInput(OHLCVInput):
    include_heuristic: bool = True

    def args(self) -> MLSignalArgs:
        return MLSignalArgs(**super().args(), include_heuristic=self.include_heuristic)


INPUT_TYPES = (OHLCVInput, SignalInput, MLSignalInput)
