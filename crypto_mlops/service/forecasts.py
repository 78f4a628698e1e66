"""RV24 forecasts at past origins for the dashboard: the only service code that reaches into a predictor."""

# MERGE: predict_origins, one_pass_forecasts and fit_baseline give way to one
# `predictor.forecast_path(frame, origins, bar_hours)` call once the models package's new Predictor protocol
# lands (caller: dashboard.Dashboard._forecasts); their logic is unchanged from the former core.py.

from __future__ import annotations

import logging
import math
from typing import Any, Protocol

import numpy as np
import pandas as pd

from crypto_mlops.service.model_holder import PredictorLike

log = logging.getLogger(__name__)


class RV24Forecast(Protocol):
    predicted_rv_24h: float


class OriginModel(Protocol):
    """A fitted zoo model: forecasts for the rows of `features` selected by `mask`, indexed by time."""

    def predict(self, features: pd.DataFrame, mask: Any) -> pd.Series: ...


def predict_origins(
    predictor: PredictorLike, frame: pd.DataFrame, origins: list[int], source: str, bar_hours: float
) -> list[RV24Forecast | None]:
    """Forecast at each origin with only the candles up to it (batched when the model can)."""
    frames = [(frame.iloc[: i + 1], source) for i in origins]
    many = getattr(predictor, "predict_many", None)
    if many is not None:
        try:
            return list(many(frames, bar_hours=bar_hours))
        except Exception as exc:
            log.debug("predict_many failed (%s); predicting one origin at a time", exc)
    out: list[RV24Forecast | None] = []
    for f, src in frames:
        try:
            out.append(predictor.predict(f, source=src, bar_hours=bar_hours))
        except Exception as exc:
            log.debug("no prediction at origin %s: %s", f.index[-1], exc)
            out.append(None)
    return out


def one_pass_forecasts(
    predictor: PredictorLike, frame: pd.DataFrame, origins: list[int], bar_hours: float
) -> dict[int, float] | None:
    """RV24 forecasts at many past origins in one causal pass of the underlying model (fast path).

    Models forecast every row from its past only, so one pass over the features equals one call per
    origin. A baseline that is normally refitted on each request's candles is fitted once, on the
    candles up to the first origin, so every drawn point stays out of sample. None when the predictor
    does not expose a model (the caller then predicts origin by origin).
    """
    model = getattr(predictor, "model", None)
    if model is None or not hasattr(model, "predict"):
        return None
    try:
        from crypto_mlops.models.backtest import model_features
        from crypto_mlops.models.inference import clean_frame

        features = model_features(clean_frame(frame, bar_hours), bar_hours)
        if getattr(predictor, "refit_on_frame", False):
            model = fit_baseline(str(predictor.model_type), features.loc[: frame.index[min(origins)]], bar_hours)
        times = frame.index[origins]
        mask = features.index.isin(times)
        forecast = model.predict(features, mask)
        out: dict[int, float] = {}
        for i, ts in zip(origins, times, strict=True):
            value = float(forecast.get(ts, float("nan")))
            if math.isfinite(value) and value > 0:
                out[i] = value
        return out
    except Exception as exc:
        log.debug("one-pass forecasts unavailable (%s); predicting origin by origin", exc)
        return None


def fit_baseline(name: str, features: pd.DataFrame, bar_hours: float) -> OriginModel:
    from crypto_mlops.features.volatility import bars
    from crypto_mlops.models.inference import MIN_FIT_ORIGINS
    from crypto_mlops.models.target import horizon_bars, realized_vol_target
    from crypto_mlops.models.zoo import BASELINES, make_model

    target = realized_vol_target(features["log_ret"], horizon_bars(bar_hours))
    # Same rule as the inference module: only origins with a full 30-day window and a known future.
    mask = np.isfinite(target.to_numpy(float)) & (np.arange(len(features)) >= bars(720, bar_hours))
    if mask.sum() < MIN_FIT_ORIGINS:
        raise ValueError(f"only {int(mask.sum())} origins to fit the baseline on")
    model = make_model(name if name in BASELINES else "har")
    model.fit(features, target, mask, bar_hours)
    return model
