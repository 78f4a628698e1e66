"""The generic result -> protobuf mapping: every result a unary RPC returns round-trips through its message.

Each proto field reads back as the result's value (under its proto name); result fields the proto
does not carry are listed in NOT_ON_WIRE, so a new result field cannot silently miss the gRPC API.
"""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.message import Message
from pydantic import BaseModel

from crypto_mlops.rpc.mapping import PROTO_NAMES, to_message
from crypto_mlops.rpc.stubs import load
from crypto_mlops.service import CryptoService, results

pb2, _ = load()

# Result fields added after the seed that the proto does not carry (REST and GraphQL have them).
NOT_ON_WIRE: dict[type[BaseModel], set[str]] = {
    results.OHLCVResult: {"limit", "cache_age_s"},
    results.FeatureRow: {"vol_per_hour"},
    results.SignalExplanation: {"momentum", "inputs"},
    results.SignalResult: {"momentum", "exchange", "timeframe"},
    results.HeuristicComparison: {"heuristic_volatility", "heuristic_risk_level"},
    results.MLSignalResult: {"exchange", "timeframe"},
    results.CompareML: {"predicted_rv_24h", "model_type"},
    results.CompareDetail: {"risk_level_agreement"},
    results.CompareResult: {"exchange", "timeframe"},
    results.HealthResult: {"model_loaded", "data_source", "database"},
}


@pytest.fixture(scope="module")
def served(service: CryptoService) -> list[tuple[BaseModel, type[Message]]]:
    """One real result per unary RPC, with the RPC's response message type."""
    return [
        (service.ohlcv("ETHUSDT", "1h", 60), pb2.OHLCVResponse),
        (service.signal("BTCUSDT", explain=True, record=False), pb2.SignalResponse),
        (service.ml_signal("BTCUSDT", include_heuristic=True, record=False), pb2.MLPredictionResponse),
        (service.compare("BTCUSDT"), pb2.CompareSignalsResponse),
        (service.health(), pb2.HealthCheckResponse),
        (service.screener.screen(), pb2.ScreenerResponse),
    ]


def _read_back(message: Message) -> dict[str, Any]:
    """Every field of `message` (set or not) as plain data; unset sub-messages are None."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if _is_map(field):
            out[field.name] = dict(value)
        elif field.message_type is None:
            out[field.name] = list(value) if field.is_repeated else value
        elif field.is_repeated:
            out[field.name] = [_read_back(item) for item in value]
        else:
            out[field.name] = _read_back(value) if message.HasField(field.name) else None
    return out


def _expected(result: BaseModel, message: Message) -> dict[str, Any]:
    """The result's own values under proto names, for the message's fields (None -> proto3 default)."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = _value(result, field.name)
        if _is_map(field):
            out[field.name] = dict(value or {})
        elif field.message_type is not None:
            child = getattr(message, field.name)
            if field.is_repeated:
                out[field.name] = [_expected(item, sub) for item, sub in zip(value, child, strict=True)]
            else:
                out[field.name] = None if value is None else _expected(value, child)
        elif value is None:
            out[field.name] = [] if field.is_repeated else field.default_value
        else:
            out[field.name] = value
    return out


def _is_map(field: Any) -> bool:
    """A proto `map<...>` field (a dict on the result side: the screener's `skipped`)."""
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _value(result: BaseModel, proto_name: str) -> Any:
    """The result field behind a message field (through the rename map); None where the result has none."""
    renames = {proto: name for name, proto in PROTO_NAMES.get(type(result), {}).items()}
    return getattr(result, renames.get(proto_name, proto_name), None)


def _models(result: BaseModel, proto_name: str) -> list[BaseModel]:
    value = _value(result, proto_name)
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def test_every_rpc_result_round_trips(served: list[tuple[BaseModel, type[Message]]]) -> None:
    for result, message_type in served:
        message = to_message(result, message_type)
        assert _read_back(message) == _expected(result, message), type(result).__name__


def test_seed_names_differ_only_where_the_rename_map_says(served: list[tuple[BaseModel, type[Message]]]) -> None:
    ohlcv = to_message(served[0][0], pb2.OHLCVResponse)
    assert ohlcv.data[-1].timestamp == served[0][0].data[-1].ts > 1_500_000_000_000  # type: ignore[attr-defined]
    signal = to_message(served[1][0], pb2.SignalResponse)
    assert signal.HasField("explanation") and len(signal.explanation.features_tail) == 5


def test_result_fields_missing_from_the_proto_are_the_listed_ones(
    served: list[tuple[BaseModel, type[Message]]],
) -> None:
    missing: dict[type[BaseModel], set[str]] = {}

    def walk(result: BaseModel, descriptor: Any) -> None:
        names = PROTO_NAMES.get(type(result), {})
        proto_fields = {f.name: f for f in descriptor.fields}
        for name in type(result).model_fields:
            field = proto_fields.get(names.get(name, name))
            if field is None:
                missing.setdefault(type(result), set()).add(name)
            elif field.message_type is not None and not _is_map(field):
                for child in _models(result, field.name):
                    walk(child, field.message_type)

    for result, message_type in served:
        walk(result, message_type.DESCRIPTOR)
    assert missing == NOT_ON_WIRE


def test_none_leaves_the_proto3_default() -> None:
    health = results.HealthResult(
        status="ok",
        ml_available=False,
        timestamp="2024-01-01T00:00:00Z",
        version="1",
        model_loaded=False,
        model_version=None,
        model_fallback=False,
        data_source="synthetic",
        database="sqlite:ok",
    )
    message = to_message(health, pb2.HealthCheckResponse)
    assert message.model_version == "" and message.status == "ok"


def test_screener_unknown_band_stays_unset_and_skipped_pairs_fill_the_map() -> None:
    row = results.PairForecast(
        pair="BTC/USDT",
        predicted_rv_24h=0.03,
        q50=0.03,
        predicted_volatility=0.006,
        volatility_regime="normal",
        risk_score=0.4,
        risk_level="medium",
        model_name="har",
        model_type="har",
        model_version="baseline",
        candle_time="2024-01-01T00:00:00Z",
    )
    screen = results.ScreenerResult(sort="pair", forecasts=[row], skipped={"SOL/USDT": "source down"})
    message = to_message(screen, pb2.ScreenerResponse)
    forecast = message.forecasts[0]
    assert not forecast.HasField("q10") and not forecast.HasField("q90") and forecast.q50 == 0.03
    assert dict(message.skipped) == {"SOL/USDT": "source down"} and forecast.model_name == "har"
