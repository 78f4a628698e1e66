"""Message schemas of the Kafka topics (JSON, pydantic, versioned).

Field names follow the seed (`crypto-prices`: symbol, price, volume_24h, change_24h, high_24h, low_24h,
timestamp, source, volatility, trend; `predictions`: symbol, timestamp, price_data, heuristic_signal,
ml_prediction, anomalies, processing_latency_ms). What the seed got wrong is fixed here: `change_24h` is
the real change over 24 hours, `volatility` is the std of log returns over 24 h per hour, and the
latency is measured. Every message carries `schema_version`; a reader refuses versions it does not know.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})

Trend = Literal["up", "down", "stable"]
TickSource = str  # exchange id ("binance"), "csv" or "synthetic"


def utc_iso(ts: datetime) -> str:
    """UTC ISO-8601 with a trailing Z, second precision unless there are milliseconds."""
    ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    text = ts.isoformat(timespec="milliseconds" if ts.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def now_iso() -> str:
    return utc_iso(datetime.now(UTC))


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp must carry a timezone (UTC)")
    return value.astimezone(UTC)


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value not in SUPPORTED_VERSIONS:
            raise ValueError(f"unsupported schema_version {value} (supported: {sorted(SUPPORTED_VERSIONS)})")
        return value

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


class Candle(BaseModel):
    """The closed candle a tick reports (absent for plain ticker ticks)."""

    model_config = ConfigDict(frozen=True)

    open_time: datetime
    open: float = Field(gt=0)
    high: float = Field(gt=0)
    low: float = Field(gt=0)
    close: float = Field(gt=0)
    volume: float = Field(ge=0)

    @field_validator("open_time")
    @classmethod
    def _utc_open(cls, value: datetime) -> datetime:
        return _aware(value)

    @model_validator(mode="after")
    def _high_not_below_low(self) -> Candle:
        if self.high < self.low:
            raise ValueError("candle high below low")
        return self


class PriceTick(_Message):
    """`crypto-prices` value. Key: the symbol."""

    symbol: str = Field(min_length=3, description="Pair, e.g. BTC/USDT")
    price: float = Field(gt=0, description="Last price (the candle close)")
    volume_24h: float = Field(ge=0, description="Base-asset volume over the last 24 h")
    change_24h: float = Field(description="Percent change of the price over the last 24 h")
    high_24h: float = Field(gt=0)
    low_24h: float = Field(gt=0)
    timestamp: datetime = Field(description="Event time (UTC): when the tick's data was known (candle close)")
    source: TickSource = Field(min_length=1, description="Exchange id, 'csv' or 'synthetic'")
    volatility: float | None = Field(
        None, ge=0, description="Std of log returns over the last 24 h, per hour (None until 2 returns)"
    )
    trend: Trend = "stable"
    timeframe: str | None = Field(None, description="Candle timeframe when the tick carries a candle")
    candle: Candle | None = None
    produced_at: datetime | None = Field(None, description="Wall-clock time the producer sent it")

    @field_validator("timestamp", "produced_at")
    @classmethod
    def _utc_times(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _aware(value)

    @property
    def event_time(self) -> datetime:
        return self.timestamp

    @property
    def event_key(self) -> str:
        """Idempotent identity of everything derived from this tick: symbol + event time."""
        return f"{self.symbol}@{utc_iso(self.timestamp)}"


class PriceData(BaseModel):
    model_config = ConfigDict(frozen=True)

    price: float
    volume_24h: float
    change_24h: float
    high_24h: float
    low_24h: float
    volatility: float | None
    trend: Trend
    source: str


class HeuristicFields(BaseModel):
    """The heuristic signal of SPEC §4 for the tick's window (method `heuristic_realtime`)."""

    model_config = ConfigDict(extra="allow")

    method: str = "heuristic_realtime"
    risk_score: float | None = None
    risk_level: str | None = None
    vol_regime: str | None = None
    vol: float | None = None
    nowcast_ret: float | None = None
    momentum: int | None = None
    rsi14: float | None = None
    error: str | None = None


class Anomaly(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    symbol: str
    value: float | str
    threshold: float | str
    severity: Literal["low", "medium", "high"]
    message: str


class PredictionMessage(_Message):
    """`predictions` value. Key: `event_key` (symbol@event time), identical when a tick is replayed."""

    symbol: str
    timestamp: datetime = Field(description="Event time of the tick it answers")
    event_key: str
    source: str = Field(description="Data source of the tick: exchange id, 'csv' or 'synthetic'")
    candle_time: datetime | None = Field(None, description="Open time of the tick's candle")
    price_data: PriceData
    heuristic_signal: HeuristicFields
    ml_prediction: dict[str, Any] | None = Field(
        None, description="The champion model's MLPrediction (SPEC §4 fields) or {'error': ...}"
    )
    anomalies: list[Anomaly] = Field(default_factory=list)
    window_size: int = Field(description="Candles of this symbol the consumer had when it answered")
    processing_latency_ms: float = Field(
        ge=0, description="From the consumer receiving the tick to this answer being ready"
    )
    processed_at: datetime
    source_offset: str = Field(description="topic/partition/offset of the tick")
    broker_latency_ms: float | None = Field(
        None, description="From the tick's broker timestamp (producer CreateTime or LogAppendTime) to this answer"
    )


class AlertMessage(_Message):
    """`alerts` value. Key: `alert_id` (symbol@rule@event time)."""

    type: str = "anomaly_alert"
    alert_id: str
    rule: str
    symbol: str
    timestamp: datetime
    anomaly: Anomaly
    cooldown_s: float


class DeadLetter(_Message):
    """Dead-letter value: what came in, where from, and why it was refused."""

    reason: str
    original_topic: str
    original_partition: int
    original_offset: int
    original_key: str | None
    original_value: str | None = Field(description="The raw value as text (UTF-8) or base64 when binary")
    value_encoding: Literal["utf-8", "base64", "none"]
    received_at: datetime
