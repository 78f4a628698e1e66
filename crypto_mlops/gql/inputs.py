"""GraphQL input types of the seed (SPEC-SEED §2); empty fields take the seed's defaults."""

from __future__ import annotations

import strawberry


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


INPUT_TYPES = (OHLCVInput, SignalInput, MLSignalInput)
