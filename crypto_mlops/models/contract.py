"""What a loaded model offers its callers: the `Predictor` protocol and its `MLPrediction` answer.

Serving (`service.model_holder`), the stream processor and the pipeline rely on this protocol only;
`crypto_mlops.models.inference` implements it. This module imports no model code, torch or MLflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

import pandas as pd
from pydantic import BaseModel, Field

from crypto_mlops.data.errors import DataUnavailable

HORIZON_HOURS = 24


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
    rv_24h_q10: float | None = Field(None, description="10 % quantile of RV24 (from out-of-sample log errors).")
    rv_24h_q50: float | None = Field(None, description="Median of RV24 (the point forecast is the QLIKE-optimal mean).")
    rv_24h_q90: float | None = Field(None, description="90 % quantile of RV24: with q10, the calibrated 80 % band.")


class Predictor(Protocol):
    """A model ready to forecast RV24 from candles (the champion, or a baseline fitted per request).

    `frame` is a canonical OHLCV frame (DatetimeIndex UTC, or a `timestamp` column) of at least
    `MIN_BARS` candles; bad frames raise `InvalidInput`.
    """

    model_name: str
    model_version: str
    model_type: str
    metrics: dict[str, Any]
    backtest: dict[str, Any] | None
    sequence_length: int | None
    engine: str  # what computes the forecasts: numpy, torch or onnxruntime
    feature_columns: list[str]

    def predict(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0) -> MLPrediction:
        """The forecast at the last candle of `frame`."""
        ...

    def predict_rows(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0, n: int = 1) -> list[MLPrediction]:
        """Forecasts at each of the last `n` candles, with one feature pass (same answers as one by one)."""
        ...

    def predict_many(self, items: Iterable[tuple[pd.DataFrame, str]], bar_hours: float = 1.0) -> list[MLPrediction]:
        """One forecast per (frame, source) pair."""
        ...

    def forecast_path(self, frame: pd.DataFrame, origins: Sequence[int], bar_hours: float = 1.0) -> dict[int, float]:
        """RV24 forecasts at many past origins (row positions in `frame`) in one causal pass.

        A baseline refitted on the request's candles is fitted once, on the candles up to the first
        origin, so every forecast stays out of sample. Origins without a finite positive forecast are
        left out; raises `InvalidInput` when no one-pass forecast is possible (the caller may then
        predict origin by origin).
        """
        ...
