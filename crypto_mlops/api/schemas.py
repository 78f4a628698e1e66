"""REST request models and shared query constraints (responses are the service's result models)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.json_schema import JsonDict

from crypto_mlops.data.schema import KNOWN_QUOTES
from crypto_mlops.service import MAX_HORIZON_MIN, MAX_LIMIT, MIN_LIMIT
from crypto_mlops.service.cache import CacheStats
from crypto_mlops.service.screener import MAX_PAIRS

Timeframe = Literal["1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w"]


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


# What `normalize_symbol` accepts, stated in the schema: BASE/QUOTE with a separator, or BASE followed by
# a known quote currency (a pattern cannot say which other quotes exist, so those need the separator).
SYMBOL_PATTERN = r"^[A-Za-z0-9]{2,15}([/\-_][A-Za-z0-9]{2,10}|" + "|".join(_any_case(q) for q in KNOWN_QUOTES) + ")$"
# What the adapter checks itself: the shape. A well-shaped pair outside SYMBOL_PATTERN ("ZZZZZZ") reaches
# the service and gets its 400 with the reason, as before; the schema still documents the accepted set.
SYMBOL_SHAPE = r"^[A-Za-z0-9]{2,15}([/\-_]?[A-Za-z0-9]{2,10})?$"
SYMBOL_SCHEMA: JsonDict = {"pattern": SYMBOL_PATTERN}
# A list of pairs as the screener and the pairlist accept it: up to MAX_PAIRS pairs (each as in SYMBOL_PATTERN,
# with an optional futures settle suffix such as `:USDT`), comma-separated. Adapters check only its length.
_PAIR = SYMBOL_PATTERN.removeprefix("^").removesuffix("$") + "(:[A-Za-z0-9]{2,10})?"
PAIRS_PATTERN = f"^{_PAIR}(,{_PAIR}){{0,{MAX_PAIRS - 1}}}$"
EXCHANGE_PATTERN = r"^[A-Za-z0-9_]{2,32}$"

SYMBOL_DOC = (
    "Pair: BTC/USDT, btc-usdt, BTC_USDT, or BTCUSDT when the quote is one of "
    f"{', '.join(KNOWN_QUOTES)} (normalized to BASE/QUOTE)."
)
EXCHANGE_DOC = "ccxt exchange id (used when DATA_SOURCE=ccxt)."
LIMIT_DOC = f"Number of candles ({MIN_LIMIT}..{MAX_LIMIT})."


def _integral(value: Any) -> Any:
    # JSON Schema counts 236.0 as an integer, so the service does too; 236.5, "236", NaN and 1e400 stay refused.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_integral)]


class MarketRequest(BaseModel):
    # strict: JSON types as documented (no "1" for 1, no 0 for false), unknown fields refused
    model_config = ConfigDict(extra="forbid", strict=True)

    symbol: str = Field(
        "BTCUSDT", pattern=SYMBOL_SHAPE, max_length=26, description=SYMBOL_DOC, json_schema_extra=SYMBOL_SCHEMA
    )
    exchange: str = Field("binance", pattern=EXCHANGE_PATTERN, description=EXCHANGE_DOC)
    timeframe: Timeframe = Field("1h", description="Candle timeframe.")
    limit: JsonInt = Field(200, ge=MIN_LIMIT, le=MAX_LIMIT, description=LIMIT_DOC)


class SignalRequest(MarketRequest):
    horizon_min: JsonInt = Field(60, ge=1, le=MAX_HORIZON_MIN, description="Horizon echoed in the response (minutes).")
    explain: bool = Field(False, description="Include the formula inputs and the last feature rows.")


class MLSignalRequest(MarketRequest):
    include_heuristic: bool = Field(True, description="Add the heuristic signal on the same candles.")


class ErrorDetail(BaseModel):
    detail: str


class RateLimitStatus(BaseModel):
    per_min: float = Field(description="RATE_LIMIT_PER_MIN (0 = off).")
    burst: int = Field(description="RATE_LIMIT_BURST.")
    refused: int = Field(description="Heavy calls refused with 429 since start.")


class LimitsStatus(BaseModel):
    """The serving limits in force and how close the process is to them (JSON side of the metrics)."""

    ohlcv_cache: CacheStats
    rate_limit: RateLimitStatus
    max_body_bytes: int
