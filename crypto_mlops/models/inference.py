"""Inference API: one call from a recent OHLCV frame to the ML signal fields of SPEC §4.

- `load_predictor(settings)`: the champion from MLflow (`models:/crypto-predictor@champion`);
  raises `ModelUnavailable` when there is none or MLflow cannot be reached.
- `baseline_predictor("har")`: needs no registry; fits the baseline on the frame it is given
  (first start, offline use).
- `Predictor.predict(frame, source, bar_hours=1.0) -> MLPrediction`; `predict_many(items)` batches.

`confidence` is the probability, estimated from out-of-sample errors, that the realized RV24 falls
within ±25 % of the forecast, conditional on how far the forecast is from the 30-day variance level
(see `crypto_mlops.models.confidence`). It is never a constant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.data.quality import regularize
from crypto_mlops.data.schema import OHLCV_COLUMNS, SUPPORTED_TIMEFRAMES, canonical_frame, timeframe_hours
from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.confidence import ConfidenceModel
from crypto_mlops.signals.heuristic import risk_level, risk_score, vol_regime

HORIZON_HOURS = 24
# Minimum candles: the 30-day HAR component needs 240 bars (a third of its window) to exist.
MIN_BARS = 240
# Fitting a regression baseline on the given frame needs this many origins with a known 24 h future
# (about 500 candles); shorter frames get the EWMA baseline, which needs no fitting.
MIN_FIT_ORIGINS = 240


class ModelUnavailable(DataUnavailable):
    """No champion in the registry, or the registry cannot be reached (HTTP 503 / exit 3)."""


class MLPrediction(BaseModel):
    predicted_rv_24h: float = Field(description="Forecast realized volatility of the next 24 h: sqrt(sum r²), decimal.")
    predicted_volatility: float = Field(description="predicted_rv_24h / sqrt(24): per-hour volatility.")
    current_volatility: float = Field(description="Std of the last 24 bar log returns, per hour (heuristic `vol`).")
    volatility_regime: str = Field(description="calm | normal | turbulent, from predicted_volatility.")
    risk_level: str = Field(description="low | medium | high: heuristic risk formula on predicted_volatility.")
    confidence: float = Field(
        description="P(realized RV24 within ±25 % of the forecast), from validation errors given how far "
        "the forecast is from the 30-day variance level."
    )
    model_name: str
    model_version: str
    model_type: str
    prediction_timestamp: str = Field(description="When the prediction was made (UTC ISO-8601).")
    source: str = Field(description="Data source of the candles: exchange id, csv or synthetic.")
    origin_timestamp: str = Field(description="Open time of the last candle used (forecast origin), UTC ISO.")
    horizon_hours: int = HORIZON_HOURS
    interval_80: tuple[float, float] | None = Field(
        None, description="Empirical 80 % interval of RV24 from validation log errors."
    )


class Predictor(Protocol):
    model_name: str
    model_version: str
    model_type: str
    metrics: dict[str, Any]

    def predict(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0) -> MLPrediction: ...


def timeframe_for(bar_hours: float) -> str:
    for tf in SUPPORTED_TIMEFRAMES:
        if abs(timeframe_hours(tf) - bar_hours) < 1e-9:
            return tf
    raise InvalidInput(f"unsupported bar length {bar_hours} h")


def clean_frame(frame: pd.DataFrame, bar_hours: float, min_bars: int = MIN_BARS) -> pd.DataFrame:
    """Canonical, regular-grid frame or InvalidInput with a clear reason."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise InvalidInput("no candles given")
    if "timestamp" in frame.columns:
        try:
            stamps = pd.to_datetime(frame["timestamp"], utc=True)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"unreadable timestamps: {exc}") from None
        frame = frame.drop(columns="timestamp").set_index(pd.DatetimeIndex(stamps, name="timestamp"))
    missing = [c for c in OHLCV_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"candles lack columns {missing}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise InvalidInput("candles need a DatetimeIndex or a 'timestamp' column")
    try:
        canonical = canonical_frame(frame)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"candles are not numeric: {exc}") from exc
    if canonical[["open", "high", "low", "close"]].isna().any(axis=None) or (canonical["close"] <= 0).any():
        raise InvalidInput("candles contain missing or non-positive prices")
    regular, _ = regularize(canonical, timeframe_for(bar_hours))
    if len(regular) < min_bars:
        raise InvalidInput(f"need at least {min_bars} candles for a volatility forecast, got {len(regular)}")
    return regular


def _last_stamps(frame: pd.DataFrame, n: int) -> pd.DatetimeIndex:
    """The newest `n` distinct candle times of the caller's frame (UTC), before any gap filling."""
    if "timestamp" in frame.columns:
        stamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True))
    else:
        stamps = pd.DatetimeIndex(frame.index)
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    return stamps.unique().sort_values()[-n:]


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _finite(x: float) -> float:
    return float(x) if math.isfinite(float(x)) else 0.0


class ModelPredictor:
    """Wraps a fitted `VolatilityModel` (from the registry or fitted in process)."""

    def __init__(
        self,
        model: VolatilityModel,
        model_name: str,
        model_version: str,
        model_type: str | None = None,
        metrics: dict[str, Any] | None = None,
        backtest: dict[str, Any] | None = None,
        refit_on_frame: bool = False,
    ) -> None:
        self.model = model
        self.model_name = model_name
        self.model_version = str(model_version)
        self.model_type = model_type or model.model_type
        self.metrics = dict(metrics or {})
        self.backtest = backtest
        self.refit_on_frame = refit_on_frame
        self.sequence_length = getattr(getattr(model, "config", None), "window", None)
        self.feature_columns = list(_model_inputs(model))

    def predict(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0) -> MLPrediction:
        return self.predict_rows(frame, source, bar_hours, n=1)[0]

    def predict_rows(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0, n: int = 1) -> list[MLPrediction]:
        """Forecasts at each of the last `n` candles of `frame`, with one feature pass.

        Used by the stream consumer to answer a batch of ticks in one call. A baseline refitted on the
        candles is fitted once, on the candles up to the first of those origins only, so no forecast
        is fitted on its own future.
        """
        from crypto_mlops.models.backtest import model_features

        if n < 1:
            raise InvalidInput("n must be at least 1")
        regular = clean_frame(frame, bar_hours)
        if n > 1 and not regular.index[-n:].equals(_last_stamps(frame, n)):
            raise InvalidInput("the last candles have gaps: predict them one by one")
        features = model_features(regular, bar_hours)
        n = min(n, len(features))
        model = self._model_for(features.iloc[: len(features) - n + 1], bar_hours)
        mask = np.zeros(len(features), dtype=bool)
        mask[-n:] = True
        forecasts = model.predict(features, mask).to_numpy(dtype=float)[-n:]
        if not np.all(np.isfinite(forecasts)) or np.any(forecasts <= 0):
            raise InvalidInput("not enough clean history in the candles to forecast (forecast undefined)")
        rows = features.iloc[-n:]
        conf_model = model.confidence or DEFAULT_CONFIDENCE
        confidences = np.clip(conf_model.score(rows, forecasts), 0.0, 1.0)
        model_type = model.name if self.refit_on_frame else self.model_type
        predictions = []
        for (origin, row), rv, confidence in zip(rows.iterrows(), forecasts, confidences, strict=True):
            pred_vol = float(rv) / math.sqrt(HORIZON_HOURS)
            momentum = int(_finite(row["momentum"]))
            predictions.append(
                MLPrediction(
                    predicted_rv_24h=float(rv),
                    predicted_volatility=pred_vol,
                    current_volatility=_finite(row["vol_per_hour"]),
                    volatility_regime=vol_regime(pred_vol),
                    risk_level=risk_level(risk_score(pred_vol, momentum)),
                    confidence=round(float(confidence), 4),
                    model_name=self.model_name,
                    model_version=self.model_version,
                    model_type=model_type,
                    prediction_timestamp=_now(),
                    source=source,
                    origin_timestamp=pd.Timestamp(origin).isoformat(),
                    interval_80=conf_model.interval(float(rv)),
                )
            )
        return predictions

    def predict_many(self, items: Iterable[tuple[pd.DataFrame, str]], bar_hours: float = 1.0) -> list[MLPrediction]:
        """Predict for several (frame, source) pairs (e.g. one per symbol)."""
        return [self.predict(frame, source, bar_hours) for frame, source in items]

    def _model_for(self, features: pd.DataFrame, bar_hours: float) -> VolatilityModel:
        if not self.refit_on_frame:
            if abs(self.model.bar_hours - bar_hours) > 1e-9:
                raise InvalidInput(
                    f"model {self.model_name} v{self.model_version} was trained on {self.model.bar_hours} h candles, "
                    f"got {bar_hours} h"
                )
            return self.model
        return _fit_on_frame(type(self.model).name, features, bar_hours)


def _model_inputs(model: VolatilityModel) -> list[str]:
    from crypto_mlops.features.volatility import VOLATILITY_COLUMNS

    if model.name in ("naive",):
        return ["rv24"]
    if model.name == "ewma":
        return ["ewma_var"]
    if model.name == "garch":
        return ["log_ret"]
    base = ["rv24", "rv168", "rv720"]
    if model.name == "har":
        return base
    extra = ["log_ret", "log_range", "rel_volume", "parkinson24", "garman_klass24"] if model.name == "bilstm" else []
    return base + [c for c in VOLATILITY_COLUMNS if c not in base] + extra


def _fit_on_frame(name: str, features: pd.DataFrame, bar_hours: float) -> VolatilityModel:
    """Fit a baseline on the frame itself; EWMA when too short to fit (it needs no fitting)."""
    from crypto_mlops.features.volatility import bars
    from crypto_mlops.models.target import horizon_bars, realized_vol_target
    from crypto_mlops.models.zoo import make_model

    target = realized_vol_target(features["log_ret"], horizon_bars(bar_hours))
    known = np.isfinite(target.to_numpy(float))
    # Only origins with a full 30-day window, so the monthly HAR term means the same when fitted and used.
    mask = known & (np.arange(len(features)) >= bars(720, bar_hours))
    if name not in ("naive", "ewma") and mask.sum() < MIN_FIT_ORIGINS:
        name = "ewma"  # too short to fit a regression: EWMA needs no fitting
    model = make_model(name)
    model.fit(features, target, mask, bar_hours)
    # Calibrate confidence on the last third of known origins when there are enough of them.
    calib = np.zeros(len(features), dtype=bool)
    known_pos = np.flatnonzero(known)
    calib[known_pos[-max(len(known_pos) // 3, 0) :]] = True
    if calib.sum() >= 60:
        try:
            model.calibrate(features, target, calib)
        except ValueError:
            model.confidence = None
    return model


class BaselinePredictor(ModelPredictor):
    """A baseline fitted on each frame it is given: works with no registry at all."""

    def __init__(self, name: str = "har") -> None:
        from crypto_mlops.models.zoo import BASELINES, make_model

        if name not in BASELINES:
            raise InvalidInput(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
        super().__init__(
            make_model(name),
            model_name=f"baseline-{name}",
            model_version="0",
            model_type=name,
            metrics={"note": "fitted on the request's candles"},
            refit_on_frame=True,
        )


def baseline_predictor(name: str = "har") -> BaselinePredictor:
    return BaselinePredictor(name)


def load_predictor(settings: Settings | None = None) -> ModelPredictor:
    """The champion from MLflow, ready to predict; `ModelUnavailable` if there is none."""
    from crypto_mlops.models.registry import load_champion

    settings = settings or get_settings()
    return load_champion(settings)


# Prior used only when a model carries no calibration (frame too short to calibrate): measured hit
# rates (±25 %) of the HAR baseline by forecast-surprise bin on the BTC backtest (train 70 %, test
# 2020-04-18..2021-06-09, 10,005 origins), rounded.
DEFAULT_CONFIDENCE = ConfidenceModel(
    centers=[-0.602, -0.331, -0.133, 0.081, 0.324, 0.698],
    rates=[0.454, 0.428, 0.434, 0.484, 0.394, 0.488],
    overall=0.447,
    n=10005,
    log_error_quantiles={"q05": -0.782, "q10": -0.650, "q50": -0.199, "q90": 0.337, "q95": 0.550},
)
