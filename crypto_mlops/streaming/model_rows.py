"""The model's answers for a run of one symbol's new candles: one model call, feature rows kept per window.

`ModelPredictor.predict_rows` cleans the candles and runs the feature function over the whole window
(1,500 candles) for every batch: three quarters of a batch's time. Here the window keeps the feature rows
of its candles; a batch computes the rows of its new candles only (`features.incremental.tail_features`,
numpy, from the 720 candles before them) and hands the window's rows to `forecast_rows`, the numbers
`predict_rows` is made of. `tests/streaming/test_model_rows.py` checks the answers equal `predict_rows`
on the same candles.

The feature rows are rebuilt from the candles (one pass) whenever they cannot be extended: after a
warm-up without the model, a gap or a step back in the candles, or a failed batch.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from crypto_mlops.features import model_features
from crypto_mlops.features.incremental import FEATURE_COLUMNS, LOOKBACK, tail_features
from crypto_mlops.models.contract import HORIZON_HOURS
from crypto_mlops.models.inference import RowForecasts
from crypto_mlops.signals.heuristic import risk_level, risk_score, vol_regime
from crypto_mlops.streaming.windows import Rows, Window


@runtime_checkable
class RowForecaster(Protocol):
    """A predictor that forecasts from a feature frame (`ModelPredictor`); others get candles."""

    model_name: str
    model_version: str

    def forecast_rows(self, features: pd.DataFrame, bar_hours: float = 1.0, n: int = 1) -> RowForecasts: ...


@cache
def incremental_columns_match() -> bool:
    """The feature function still has exactly the columns `tail_features` computes (else: full passes)."""
    probe = pd.DataFrame(
        {c: [1.0, 1.1, 1.2] for c in ("open", "high", "low", "close", "volume")},
        index=pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC", name="timestamp"),
    )
    return tuple(model_features(probe).columns) == FEATURE_COLUMNS


def stable_list(values: list[float]) -> list[float | None]:
    """Ten significant digits (None where not finite): rounds away the last bits that differ with the
    window's start (rolling sums), so replays match."""
    a = np.asarray(values, dtype=float)
    ok = np.isfinite(a) & (a != 0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = 10.0 ** np.where(ok, 9 - np.floor(np.log10(np.abs(np.where(ok, a, 1.0)))), 0.0)
        out = np.where(np.isfinite(a), np.round(a * scale) / scale, np.nan)
    return [v if v == v else None for v in out.tolist()]


def ml_dicts(rows: RowForecasts, predictor: RowForecaster, source: str) -> list[dict[str, Any]]:
    """`MLPrediction` fields per row, as `predict_rows(...)` answers dumped to JSON (floats stabilized)."""
    now = datetime.now(UTC).isoformat()
    rv = np.asarray(rows.rv_24h, dtype=float)
    pred_vol = rv / math.sqrt(HORIZON_HOURS)
    q10, q50, q90 = (list(q) for q in zip(*rows.quantiles, strict=True)) if rows.quantiles else ([], [], [])
    confidence = [round(c, 4) for c in rows.confidence]
    columns = zip(
        rows.origins,
        pred_vol.tolist(),
        rows.momentum,
        stable_list(rows.rv_24h),
        stable_list(pred_vol.tolist()),
        stable_list(rows.current_volatility),
        stable_list(confidence),
        q10,
        q90,
        stable_list(q10),
        stable_list(q50),
        stable_list(q90),
        strict=True,
    )
    return [
        {
            "predicted_rv_24h": rv_s,
            "predicted_volatility": vol_s,
            "current_volatility": cur_s,
            "volatility_regime": vol_regime(vol),
            "risk_level": risk_level(risk_score(vol, momentum)),
            "confidence": conf_s,
            "model_name": predictor.model_name,
            "model_version": predictor.model_version,
            "model_type": rows.model_type,
            "prediction_timestamp": now,
            "source": source,
            "origin_timestamp": origin,
            "horizon_hours": HORIZON_HOURS,
            "interval_80": [lo, hi],
            "rv_24h_q10": lo_s,
            "rv_24h_q50": mid_s,
            "rv_24h_q90": hi_s,
        }
        for origin, vol, momentum, rv_s, vol_s, cur_s, conf_s, lo, hi, lo_s, mid_s, hi_s in columns
    ]


def feature_rows(w: Window, rows: Rows, prior: int) -> np.ndarray:
    """Feature rows of every candle of `rows` (the window's `prior` candles, then the new ones)."""
    fresh = len(rows) - prior
    if w.features is not None and len(w.features) == prior:
        new = tail_features(*_arrays(rows.tail(fresh + LOOKBACK)), w.bar_hours, fresh)
        return np.concatenate([w.features, new]) if prior else new
    return tail_features(*_arrays(rows), w.bar_hours, len(rows))


def _arrays(rows: Rows) -> tuple[np.ndarray, np.ndarray]:
    return rows.times, rows.ohlcv


def incremental_answers(
    w: Window,
    rows: Rows,
    prior: int,
    n: int,
    window_size: int,
    predictor: RowForecaster,
    source: str,
) -> tuple[list[dict[str, Any]], np.ndarray] | None:
    """Answers for the last `n` candles of `rows` and the feature rows of `rows` (for the window to keep),
    or None when the candles need the frame path (a gap in them, or a feature function that changed).

    The model sees what `predict_rows` would get: the `window_size` candles up to the first answered one,
    then the others.
    """
    if not incremental_columns_match():
        return None
    start = max(0, len(rows) - window_size - n + 1)
    if not rows.regular_from(start, w.bar_ns):
        return None
    features = feature_rows(w, rows, prior)
    frame = pd.DataFrame(features[start:], index=rows.index(start), columns=list(FEATURE_COLUMNS))
    return ml_dicts(predictor.forecast_rows(frame, w.bar_hours, n), predictor, source), features
