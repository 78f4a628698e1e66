"""Message schemas: round trip, versioning, validation."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from crypto_mlops.streaming.schemas import PriceTick
from tests.streaming.helpers import tick


def test_tick_round_trip_keeps_the_seed_field_names() -> None:
    t = tick(price=123.0)
    data = json.loads(t.to_bytes())
    for name in (
        "symbol",
        "price",
        "volume_24h",
        "change_24h",
        "high_24h",
        "low_24h",
        "timestamp",
        "source",
        "volatility",
        "trend",
        "schema_version",
        "candle",
    ):
        assert name in data
    assert data["timestamp"].endswith("Z")
    assert PriceTick.model_validate_json(t.to_bytes()) == t
    assert t.event_key == "BTC/USDT@2024-01-01T01:00:00Z"


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"schema_version": 99}, "schema_version"),
        ({"timestamp": "2024-01-01T00:00:00"}, "timezone"),
        ({"price": -1}, "greater than 0"),
        ({"symbol": ""}, "at least 3"),
    ],
)
def test_invalid_ticks_are_refused_with_a_reason(change: dict, why: str) -> None:
    data = json.loads(tick().to_bytes()) | change
    with pytest.raises(ValidationError, match=why):
        PriceTick.model_validate(data)


def test_candle_high_below_low_is_refused() -> None:
    data = json.loads(tick().to_bytes())
    data["candle"]["high"], data["candle"]["low"] = 1.0, 2.0
    with pytest.raises(ValidationError, match="high below low"):
        PriceTick.model_validate(data)
