"""The consumer's wire format in msgspec: typed structs decoded and encoded in C, not pydantic.

`schemas.py` declares the messages (pydantic: what readers validate against, and what the producer
writes). Here the same messages are msgspec structs with the same field names, types and checks:
- `Tick` decodes a `crypto-prices` value in ~2 µs (pydantic: ~20 µs) and refuses what `PriceTick`
  refuses (positive prices, UTC timestamps, a known schema_version, high >= low);
- `Prediction`, `Alert` and `Anomaly` are what the processor builds and the consumer encodes.
`tests/streaming/test_codec.py` checks that encoded structs validate as the pydantic messages and that
bad input is refused with a reason.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

from crypto_mlops.streaming.schemas import SCHEMA_VERSION, SUPPORTED_VERSIONS, PriceTick, utc_iso

Positive = Annotated[float, msgspec.Meta(gt=0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    return value if value.tzinfo is UTC else value.astimezone(UTC)


class TickCandle(msgspec.Struct, kw_only=True, gc=False):
    open_time: datetime
    open: Positive
    high: Positive
    low: Positive
    close: Positive
    volume: NonNegative

    def __post_init__(self) -> None:
        self.open_time = _utc(self.open_time)
        if self.high < self.low:
            raise ValueError("candle high below low")


class Tick(msgspec.Struct, kw_only=True, gc=False):
    """A `crypto-prices` value (`schemas.PriceTick`), as the consumer reads it."""

    schema_version: int = SCHEMA_VERSION
    symbol: Annotated[str, msgspec.Meta(min_length=3)]
    price: Positive
    volume_24h: NonNegative
    change_24h: float
    high_24h: Positive
    low_24h: Positive
    timestamp: datetime
    source: Annotated[str, msgspec.Meta(min_length=1)]
    volatility: NonNegative | None = None
    trend: Literal["up", "down", "stable"] = "stable"
    timeframe: str | None = None
    candle: TickCandle | None = None
    produced_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.schema_version not in SUPPORTED_VERSIONS:
            raise ValueError(
                f"unsupported schema_version {self.schema_version} (supported: {sorted(SUPPORTED_VERSIONS)})"
            )
        self.timestamp = _utc(self.timestamp)
        if self.produced_at is not None:
            self.produced_at = _utc(self.produced_at)

    @property
    def event_key(self) -> str:
        """Idempotent identity of everything derived from this tick: symbol + event time."""
        return f"{self.symbol}@{utc_iso(self.timestamp)}"


_TICKS = msgspec.json.Decoder(Tick, strict=False)  # lax like pydantic: "101.5" is a price, "cheap" is not
_ENCODER = msgspec.json.Encoder()


def decode_tick(raw: bytes | None) -> tuple[Tick | None, str | None]:
    """(tick, None) or (None, the reason it was refused)."""
    if not raw:
        return None, "empty value"
    try:
        return _TICKS.decode(raw), None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        return None, f"invalid tick: {exc}"


def encode(message: msgspec.Struct) -> bytes:
    return _ENCODER.encode(message)


class Anomaly(msgspec.Struct, kw_only=True, gc=False):
    type: str
    symbol: str
    value: float | str
    threshold: float | str
    severity: Literal["low", "medium", "high"]
    message: str


class PriceData(msgspec.Struct, kw_only=True, gc=False):
    price: float
    volume_24h: float
    change_24h: float
    high_24h: float
    low_24h: float
    volatility: float | None
    trend: str
    source: str

    @classmethod
    def of(cls, tick: Tick | PriceTick) -> PriceData:
        """The tick's market fields, as a prediction repeats them."""
        return cls(
            price=tick.price,
            volume_24h=tick.volume_24h,
            change_24h=tick.change_24h,
            high_24h=tick.high_24h,
            low_24h=tick.low_24h,
            volatility=tick.volatility,
            trend=tick.trend,
            source=tick.source,
        )


class Heuristic(msgspec.Struct, kw_only=True, gc=False):
    """The heuristic signal of SPEC §4 for the tick's window (`schemas.HeuristicFields`)."""

    method: str = "heuristic_realtime"
    risk_score: float | None = None
    risk_level: str | None = None
    vol_regime: str | None = None
    vol: float | None = None
    nowcast_ret: float | None = None
    momentum: int | None = None
    rsi14: float | None = None
    error: str | None = None


class Prediction(msgspec.Struct, kw_only=True, gc=False):
    """A `predictions` value (`schemas.PredictionMessage`). Key: `event_key`."""

    schema_version: int = SCHEMA_VERSION
    symbol: str
    timestamp: datetime
    event_key: str
    source: str
    candle_time: datetime | None = None
    price_data: PriceData
    heuristic_signal: Heuristic
    ml_prediction: dict[str, Any] | None = None
    anomalies: list[Anomaly] = msgspec.field(default_factory=list)
    window_size: int
    processing_latency_ms: float
    processed_at: datetime
    source_offset: str
    broker_latency_ms: float | None = None

    def to_bytes(self) -> bytes:
        return _ENCODER.encode(self)


class Alert(msgspec.Struct, kw_only=True, gc=False):
    """An `alerts` value (`schemas.AlertMessage`). Key: `alert_id`."""

    schema_version: int = SCHEMA_VERSION
    type: str = "anomaly_alert"
    alert_id: str
    rule: str
    symbol: str
    timestamp: datetime
    anomaly: Anomaly
    cooldown_s: float

    def to_bytes(self) -> bytes:
        return _ENCODER.encode(self)
