"""RV24 forecasts at past origins for the dashboard, through the one `Predictor` protocol."""

from __future__ import annotations

import logging

import pandas as pd

from crypto_mlops.models.contract import MLPrediction, Predictor

log = logging.getLogger(__name__)


def path_forecasts(
    predictor: Predictor, frame: pd.DataFrame, origins: list[int], bar_hours: float
) -> dict[int, float] | None:
    """Forecasts at many past origins in one causal pass; None when the model cannot do that for this frame."""
    try:
        return predictor.forecast_path(frame, origins, bar_hours)
    except Exception as exc:
        log.debug("one-pass forecasts unavailable (%s); predicting origin by origin", exc)
        return None


def predict_origins(
    predictor: Predictor, frame: pd.DataFrame, origins: list[int], source: str, bar_hours: float
) -> list[MLPrediction | None]:
    """Forecast at each origin with only the candles up to it: batched, or one at a time when the batch fails."""
    frames = [(frame.iloc[: i + 1], source) for i in origins]
    try:
        return list(predictor.predict_many(frames, bar_hours=bar_hours))
    except Exception as exc:
        log.debug("predict_many failed (%s); predicting one origin at a time", exc)
    out: list[MLPrediction | None] = []
    for f, src in frames:
        try:
            out.append(predictor.predict(f, source=src, bar_hours=bar_hours))
        except Exception as exc:
            log.debug("no prediction at origin %s: %s", f.index[-1], exc)
            out.append(None)
    return out
