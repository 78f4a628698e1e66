"""Inference API: one call from a recent OHLCV frame to the ML signal fields of SPEC §4.

- `load_predictor(settings, alias=None)`: the champion from MLflow (`models:/crypto-predictor@champion`,
  or a pair's `champion-btcusdt`); raises `ModelUnavailable` when there is none or MLflow cannot be reached.
- `baseline_predictor("har")`: needs no registry; fits the baseline on the frame it is given
  (first start, offline use).
- Both return a `ModelPredictor`, which implements `crypto_mlops.models.contract.Predictor`.

`confidence` is the probability, estimated from out-of-sample errors, that the realized RV24 falls
within ±25 % of the forecast, conditional on how far the forecast is from the 30-day variance level
(see `crypto_mlops.models.confidence`). It is never a constant.

Importing this module does not import torch or MLflow (only loading a champion does; a BiLSTM champion
loaded with MODEL_ENGINE=onnx, or auto when it was saved with net.onnx, does not import torch either).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.features import model_features
from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.baselines import BASELINES
from crypto_mlops.models.catalog import make_model
from crypto_mlops.models.confidence import DEFAULT_CONFIDENCE
from crypto_mlops.models.contract import HORIZON_HOURS, MLPrediction, ModelUnavailable, Predictor
from crypto_mlops.models.frames import MIN_BARS, clean_frame, last_stamps, row_stamps, timeframe_for
from crypto_mlops.models.refit import MIN_FIT_ORIGINS, fit_baseline
from crypto_mlops.signals.heuristic import risk_level, risk_score, vol_regime

__all__ = [
    "DEFAULT_CONFIDENCE",
    "MIN_BARS",
    "MIN_FIT_ORIGINS",
    "BaselinePredictor",
    "MLPrediction",
    "ModelPredictor",
    "ModelUnavailable",
    "Predictor",
    "RowForecasts",
    "baseline_predictor",
    "clean_frame",
    "load_predictor",
    "timeframe_for",
]


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class RowForecasts:
    """Forecasts at the last rows of a feature frame, as plain lists (one entry per row)."""

    origins: list[str]  # candle open time of each origin, UTC ISO
    rv_24h: list[float]
    confidence: list[float]
    momentum: list[int]
    current_volatility: list[float]
    quantiles: list[tuple[float, float, float]]  # q10, q50, q90 of RV24
    model_type: str

    def zipped(self) -> Iterator[tuple[str, float, float, int, float, tuple[float, float, float]]]:
        return zip(
            self.origins,
            self.rv_24h,
            self.confidence,
            self.momentum,
            self.current_volatility,
            self.quantiles,
            strict=True,
        )


class ModelPredictor:
    """Wraps a fitted `VolatilityModel` (from the registry, or a baseline refitted per request)."""

    def __init__(
        self,
        model: VolatilityModel,
        model_name: str,
        model_version: str,
        model_type: str | None = None,
        metrics: dict[str, Any] | None = None,
        backtest: dict[str, Any] | None = None,
        refit_on_frame: bool = False,
        model_alias: str = "",
    ) -> None:
        self.model = model
        self.model_alias = model_alias  # the registry alias it was loaded by ('baseline:har' for a baseline)
        self.model_name = model_name
        self.model_version = str(model_version)
        self.model_type = model_type or model.model_type
        self.metrics = dict(metrics or {})
        self.backtest = backtest
        self.refit_on_frame = refit_on_frame
        self.sequence_length = model.sequence_length
        self.engine = model.engine
        self.feature_columns = list(model.inputs)

    def predict(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0) -> MLPrediction:
        return self.predict_rows(frame, source, bar_hours, n=1)[0]

    def predict_rows(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0, n: int = 1) -> list[MLPrediction]:
        """Forecasts at each of the last `n` candles of `frame`, with one feature pass.

        Used by the stream consumer to answer a batch of ticks in one call. A baseline refitted on the
        candles is fitted once, on the candles up to the first of those origins only, so no forecast
        is fitted on its own future.
        """
        if n < 1:
            raise InvalidInput("n must be at least 1")
        regular = clean_frame(frame, bar_hours)
        if n > 1 and not regular.index[-n:].equals(last_stamps(frame, n)):
            raise InvalidInput("the last candles have gaps: predict them one by one")
        rows = self.forecast_rows(model_features(regular, bar_hours), bar_hours, n)
        now = _now()
        return [
            MLPrediction(
                predicted_rv_24h=rv,
                predicted_volatility=rv / math.sqrt(HORIZON_HOURS),
                current_volatility=vol_now,
                volatility_regime=vol_regime(rv / math.sqrt(HORIZON_HOURS)),
                risk_level=risk_level(risk_score(rv / math.sqrt(HORIZON_HOURS), momentum)),
                confidence=round(confidence, 4),
                model_name=self.model_name,
                model_version=self.model_version,
                model_type=rows.model_type,
                prediction_timestamp=now,
                source=source,
                origin_timestamp=origin,
                interval_80=(q10, q90),
                rv_24h_q10=q10,
                rv_24h_q50=q50,
                rv_24h_q90=q90,
            )
            for origin, rv, confidence, momentum, vol_now, (q10, q50, q90) in rows.zipped()
        ]

    def forecast_rows(self, features: pd.DataFrame, bar_hours: float = 1.0, n: int = 1) -> RowForecasts:
        """The numbers of `predict_rows` for the last `n` rows of an already computed feature frame.

        `features` is `model_features` of regular candles (the stream keeps them up to date row by row).
        """
        n = min(n, len(features))
        model = self._model_for(features.iloc[: len(features) - n + 1], bar_hours, strict=False)
        mask = np.zeros(len(features), dtype=bool)
        mask[-n:] = True
        forecasts = model.predict(features, mask).to_numpy(dtype=float)[-n:]
        if not np.all(np.isfinite(forecasts)) or np.any(forecasts <= 0):
            raise InvalidInput("not enough clean history in the candles to forecast (forecast undefined)")
        rows = features.iloc[-n:]
        conf_model = model.confidence or DEFAULT_CONFIDENCE
        confidences = np.clip(conf_model.score(rows, forecasts), 0.0, 1.0)
        # Plain arrays and one timestamp string per row: `iterrows` built a Series per row.
        momenta = np.nan_to_num(rows["momentum"].to_numpy(float), nan=0.0, posinf=0.0, neginf=0.0).astype(int)
        current = np.nan_to_num(rows["vol_per_hour"].to_numpy(float), nan=0.0, posinf=0.0, neginf=0.0)
        return RowForecasts(
            origins=[ts.isoformat() for ts in rows.index],
            rv_24h=forecasts.tolist(),
            confidence=confidences.tolist(),
            momentum=momenta.tolist(),
            current_volatility=current.tolist(),
            quantiles=[conf_model.quantiles(rv) for rv in forecasts.tolist()],
            model_type=model.name if self.refit_on_frame else self.model_type,
        )

    def predict_many(self, items: Iterable[tuple[pd.DataFrame, str]], bar_hours: float = 1.0) -> list[MLPrediction]:
        """Predict for several (frame, source) pairs (e.g. one per symbol)."""
        return [self.predict(frame, source, bar_hours) for frame, source in items]

    def forecast_path(self, frame: pd.DataFrame, origins: Sequence[int], bar_hours: float = 1.0) -> dict[int, float]:
        """RV24 forecasts at many past origins (row positions in `frame`) in one causal pass.

        Models forecast every row from its past only, so one pass over the features equals one call per
        origin. A refitted baseline is fitted once, on the candles up to the first origin (strictly: too
        few candles to fit it raise InvalidInput instead of switching to EWMA).
        """
        if not origins:
            return {}
        stamps = row_stamps(frame)
        try:
            times = stamps[list(origins)]
        except IndexError:
            raise InvalidInput(f"origins must be row positions of the {len(frame)} candles given") from None
        features = model_features(clean_frame(frame, bar_hours), bar_hours)
        model = self._model_for(features.loc[: times.min()], bar_hours, strict=True)
        forecast = model.predict(features, features.index.isin(times))
        out: dict[int, float] = {}
        for i, ts in zip(origins, times, strict=True):
            value = float(forecast.get(ts, float("nan")))
            if math.isfinite(value) and value > 0:
                out[i] = value
        return out

    def _model_for(self, features: pd.DataFrame, bar_hours: float, strict: bool) -> VolatilityModel:
        if self.refit_on_frame:
            return fit_baseline(self.model.name, features, bar_hours, strict=strict, calibrate=not strict)
        if abs(self.model.bar_hours - bar_hours) > 1e-9:
            raise InvalidInput(
                f"model {self.model_name} v{self.model_version} was trained on {self.model.bar_hours} h candles, "
                f"got {bar_hours} h"
            )
        return self.model


class BaselinePredictor(ModelPredictor):
    """A baseline fitted on each frame it is given: works with no registry at all."""

    def __init__(self, name: str = "har") -> None:
        if name not in BASELINES:
            raise InvalidInput(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
        super().__init__(
            make_model(name),
            model_name=f"baseline-{name}",
            model_version="0",
            model_type=name,
            metrics={"note": "fitted on the request's candles"},
            refit_on_frame=True,
            model_alias=f"baseline:{name}",
        )


def baseline_predictor(name: str = "har") -> BaselinePredictor:
    return BaselinePredictor(name)


def load_predictor(settings: Settings | None = None, alias: str | None = None) -> ModelPredictor:
    """The version behind `models:/{name}@{alias}` (default alias: MODEL_ALIAS, the global champion) from
    MLflow, ready to predict; `ModelUnavailable` if there is none."""
    from crypto_mlops.models.pyfunc import load_volatility_model
    from crypto_mlops.models.registry import champion_version, get_client, run_backtest_json

    settings = settings or get_settings()
    name, alias = settings.model_name, alias or settings.model_alias
    try:
        client = get_client(settings)
        version = champion_version(client, name, alias)
    except Exception as exc:
        uri = settings.mlflow_tracking_uri
        raise ModelUnavailable(f"MLflow at {uri} unreachable: {type(exc).__name__}: {exc}") from exc
    if version is None:
        raise ModelUnavailable(f"no {name}@{alias} in {settings.mlflow_tracking_uri}")
    try:
        model = load_volatility_model(f"models:/{name}/{version.version}", settings.model_engine)
        metrics: dict[str, Any] = dict(client.get_run(version.run_id).data.metrics) if version.run_id else {}
        backtest = run_backtest_json(version.run_id) if version.run_id else None
    except Exception as exc:
        raise ModelUnavailable(f"cannot load {name} v{version.version}: {type(exc).__name__}: {exc}") from exc
    tags = dict(version.tags or {})
    metrics.update({k: v for k, v in tags.items() if k.startswith("gate.")})
    return ModelPredictor(
        model,
        model_name=name,
        model_version=str(version.version),
        model_type=tags.get("model_type", model.name),
        metrics=metrics,
        backtest=backtest,
        model_alias=alias,
    )
