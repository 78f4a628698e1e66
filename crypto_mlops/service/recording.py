"""What the service remembers of the results it served: history rows, counters, and the history tails."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from json.encoder import encode_basestring_ascii  # what json.dumps uses for a str
from typing import Any, Literal

from crypto_mlops.data.schema import normalize_symbol
from crypto_mlops.service.history import HistoryStore
from crypto_mlops.service.limits import MAX_HISTORY_N, check_range
from crypto_mlops.service.results import MLSignalResult, SignalResult, utc_now
from crypto_mlops.service.telemetry import Telemetry

HistoryKind = Literal["signals", "ml_predictions"]
_TIMESTAMP_MARK = "@@served-at@@"  # stands for the timestamp while a reused answer's payload is encoded once
_TIMESTAMP_JSON = json.dumps(_TIMESTAMP_MARK)

# Searchable columns of each history table after the shared leading ones (history.py), read off the result.
SIGNAL_COLUMNS = ("horizon_min", "risk_score", "nowcast_ret", "vol", "vol_regime", "risk_level", "method")
ML_COLUMNS = (
    "model_name",
    "model_version",
    "model_type",
    "predicted_rv_24h",
    "predicted_volatility",
    "current_volatility",
    "volatility_regime",
    "risk_level",
    "confidence",
)


def _leading(result: SignalResult | MLSignalResult) -> dict[str, Any]:
    return {
        "symbol": result.symbol,
        "timeframe": result.timeframe,
        "source": result.source,
        "candle_time": result.candle_time,
    }


def signal_row(result: SignalResult) -> dict[str, Any]:
    """The searchable columns of a signal's history row (the same for every serving of one result)."""
    return {**_leading(result), **{name: getattr(result, name) for name in SIGNAL_COLUMNS}}


def ml_row(result: MLSignalResult) -> dict[str, Any]:
    ml = result.ml_prediction
    return {**_leading(result), **{name: getattr(ml, name) for name in ML_COLUMNS}}


@dataclass
class HistoryForm:
    """A result's history row and JSON payload, built once for a result that is served many times."""

    row: dict[str, Any]
    payload: dict[str, Any] | None = None  # dumped by the writer thread on first use
    # The payload's JSON text around its timestamp's value (writer thread, first use); False: not splittable.
    encoded: tuple[str, str] | bool | None = None


def _payload(result: SignalResult | MLSignalResult, timestamp: str | None, form: HistoryForm | None) -> dict[str, Any]:
    if form is None:
        payload = result.model_dump(mode="json")
    else:
        if form.payload is None:
            form.payload = result.model_dump(mode="json")
        payload = dict(form.payload)
    if timestamp is not None:  # a stored answer served again: the payload says when it was served
        payload["timestamp"] = timestamp
    return payload


def _payload_json(result: SignalResult | MLSignalResult, timestamp: str | None, form: HistoryForm | None) -> str:
    """`json.dumps` of `_payload(...)` (what the JSON column stores); a reused answer's text is encoded once,
    its timestamp spliced in, instead of dumping the whole payload for every row."""
    if form is None or timestamp is None:
        return json.dumps(_payload(result, timestamp, form))
    if form.encoded is None:
        text = json.dumps(_payload(result, _TIMESTAMP_MARK, form))
        parts = text.split(_TIMESTAMP_JSON)
        form.encoded = (parts[0], parts[1]) if len(parts) == 2 else False
    if isinstance(form.encoded, tuple):
        return form.encoded[0] + encode_basestring_ascii(timestamp) + form.encoded[1]
    return json.dumps(_payload(result, timestamp, form))


class Recorder:
    """Counts and records every served signal. `timestamp` overrides the result's own (a reused answer);
    `form` is the result's `HistoryForm` when the caller keeps one (the JSON payload is then dumped once)."""

    def __init__(self, history: HistoryStore, telemetry: Telemetry) -> None:
        self.history = history
        self.telemetry = telemetry

    def signal(
        self, result: SignalResult, adapter: str, timestamp: str | None = None, form: HistoryForm | None = None
    ) -> None:
        self.telemetry.count_signal(adapter)
        row = form.row if form is not None else signal_row(result)
        # The JSON payload is built by the history writer thread, off the request path.
        self.history.add_signal(
            utc_now(), row, partial(_payload, result, timestamp, form), partial(_payload_json, result, timestamp, form)
        )

    def ml_prediction(
        self, result: MLSignalResult, adapter: str, timestamp: str | None = None, form: HistoryForm | None = None
    ) -> None:
        self.telemetry.count_ml_prediction(adapter, result.symbol, result.ml_prediction.predicted_rv_24h)
        row = form.row if form is not None else ml_row(result)
        self.history.add_ml_prediction(
            utc_now(), row, partial(_payload, result, timestamp, form), partial(_payload_json, result, timestamp, form)
        )

    def tail(self, kind: HistoryKind, n: int, symbol: str | None = None) -> list[dict[str, Any]]:
        check_range("n", n, 1, MAX_HISTORY_N)
        sym = normalize_symbol(symbol) if symbol else None
        if kind == "signals":
            return self.history.tail_signals(n, sym)
        return self.history.tail_ml_predictions(n, sym)
