"""Common interface of every volatility model: fit on a feature frame, forecast RV24 at each origin.

The base class knows no subclass: models are found by name in `crypto_mlops.models.catalog`, which
each model module fills with its `@register` decorator.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crypto_mlops.models.confidence import ConfidenceModel
from crypto_mlops.models.target import horizon_bars

# RV below 0.01 % over a window only happens when the exchange was down (flat zero-volume candles,
# e.g. Binance on 2018-02-08); such origins are not fitted on, and logs are floored there.
MIN_RV = 1e-4
LOG_VAR_FLOOR = MIN_RV**2
STATE_FILE = "state.json"


def log_var(vol: np.ndarray | pd.Series) -> np.ndarray:
    """log of the variance of a volatility, floored so that flat (outage) windows stay finite."""
    logs: np.ndarray = np.log(np.maximum(np.asarray(vol, float) ** 2, LOG_VAR_FLOOR))
    return logs


class VolatilityModel(ABC):
    """A model forecasting RV24 (decimal volatility over the next 24 h) at every origin of a frame.

    `features` is always the output of `crypto_mlops.features.model_features`; `predict` may only use
    each row's past (rows <= t), so forecasting the whole frame at once is causal.
    """

    name: ClassVar[str]
    model_type: ClassVar[str] = "baseline"
    # Feature columns the model reads (shown by the service as the model's inputs).
    inputs: ClassVar[tuple[str, ...]] = ()
    # A model that wraps another (a pooled model bound to one pair) is saved with this kind, and
    # `catalog.load_model` reads it back through the loader registered for it; "" for the catalog's models.
    saved_kind: ClassVar[str] = ""
    # What computes its forecasts once fitted (shown by the service): numpy, torch or onnxruntime.
    engine: str = "numpy"

    def __init__(self) -> None:
        self.bar_hours = 1.0
        self.confidence: ConfidenceModel | None = None
        self.fitted = False

    @classmethod
    def build(cls, config: object | None = None) -> VolatilityModel:
        """A fresh model; models with settings (the BiLSTM) take theirs from `config`."""
        return cls()

    @property
    def horizon(self) -> int:
        return horizon_bars(self.bar_hours)

    @property
    def sequence_length(self) -> int | None:
        """Bars of history a sequence model reads per origin (None for origin-feature models)."""
        return None

    def fit(
        self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray, bar_hours: float = 1.0
    ) -> VolatilityModel:
        self.bar_hours = float(bar_hours)
        self._fit(features, target, np.asarray(train_mask, bool))
        self.fitted = True
        return self

    @abstractmethod
    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None: ...

    def predict(self, features: pd.DataFrame, mask: np.ndarray | None = None) -> pd.Series:
        """RV24 forecast at every row (baselines are cheap, so `mask` is only a hint for costly models)."""
        if not self.fitted:
            raise RuntimeError(f"model {self.name!r} is not fitted")
        return pd.Series(self._predict(features), index=features.index, name=self.name)

    @abstractmethod
    def _predict(self, features: pd.DataFrame) -> np.ndarray: ...

    def warm_start(self, previous: VolatilityModel) -> None:  # noqa: B027 - optional hook
        """Start the next `fit` from `previous` (same class, fitted on an earlier cut); a no-op by default."""

    def calibrate(self, features: pd.DataFrame, target: pd.Series, mask: np.ndarray) -> None:
        """Fit the confidence model on out-of-sample errors at the `mask` origins."""
        forecast = self.predict(features, mask).to_numpy()
        self.confidence = ConfidenceModel.fit(features, target.to_numpy(), forecast, np.asarray(mask, bool))

    def version_tags(self) -> dict[str, str]:
        """Tags the registry adds to this model's version besides the promotion path's (none by default)."""
        return {}

    def fit_log(self) -> tuple[list[dict[str, float]], dict[str, float]]:
        """What the last fit reports to the tracker: per-epoch metrics (each with an `epoch`) and totals."""
        return [], {}

    # --- persistence ----------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """JSON-able fitted parameters (weights of learned models are saved separately)."""
        return {}

    def set_params(self, params: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        pass

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        state = {
            "name": self.name,
            "model_type": self.model_type,
            "bar_hours": self.bar_hours,
            "params": self.params(),
            "confidence": self.confidence.to_dict() if self.confidence else None,
        }
        if self.saved_kind:
            state["kind"] = self.saved_kind
        (directory / STATE_FILE).write_text(json.dumps(state, indent=1))
        self._save_extra(directory)

    def restore(self, state: dict[str, Any], directory: Path) -> VolatilityModel:
        """Load what `save` wrote (`state` is its state.json) into this fresh instance."""
        self.bar_hours = float(state["bar_hours"])
        self.set_params(state["params"])
        self._load_extra(directory)
        if state.get("confidence"):
            self.confidence = ConfidenceModel.from_dict(state["confidence"])
        self.fitted = True
        return self

    def _save_extra(self, directory: Path) -> None:  # noqa: B027 - optional hook
        pass

    def _load_extra(self, directory: Path) -> None:  # noqa: B027 - optional hook
        pass


def fit_rows(features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray, columns: list[str]) -> np.ndarray:
    """Train rows with a finite target and finite inputs."""
    ok: np.ndarray = train_mask & np.isfinite(target.to_numpy(float))
    for c in columns:
        ok &= np.isfinite(features[c].to_numpy(float))
    return ok
