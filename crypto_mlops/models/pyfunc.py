"""MLflow pyfunc wrapper: the fitted model's state (JSON + torch weights, and the BiLSTM's net.onnx) as artifacts.

The class lives in the installed package, so a loaded model needs no training-script globals;
`predict` takes raw OHLCV candles and returns one RV24 forecast per origin.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.models.model import ModelInfo
from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

from crypto_mlops.features import model_features
from crypto_mlops.models import baselines  # noqa: F401 - registers the baselines (the BiLSTM loads on demand)
from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.catalog import load_model
from crypto_mlops.models.confidence import DEFAULT_CONFIDENCE
from crypto_mlops.models.frames import clean_frame

STATE_ARTIFACT = "model_state"
PIP_REQUIREMENTS = ["torch==2.13.0", "numpy", "pandas", "scipy", "arch", "pydantic"]

# The engine `load_context` loads with (MODEL_ENGINE), set by `load_volatility_model` around MLflow's load:
# MLflow's own `model_config` only reaches models logged with one, and the registered ones were not.
_ENGINE: ContextVar[str] = ContextVar("model_engine", default="torch")


class VolatilityPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[misc,name-defined]
    """Input: candles (`timestamp, open, high, low, close, volume`, or a DatetimeIndex).

    Through MLflow the input needs a `timestamp` column of naive UTC datetimes (MLflow's schema
    check refuses tz-aware ones); called directly, tz-aware timestamps and a DatetimeIndex work too.
    Output: DataFrame `timestamp, predicted_rv_24h, confidence` (all origins, or the last only with
    `params={"last_only": True}`). `params={"bar_hours": ...}` overrides the bar length.
    """

    model: VolatilityModel

    def load_context(self, context: Any) -> None:
        self.model = load_model(Path(context.artifacts[STATE_ARTIFACT]), _ENGINE.get())

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        params = params or {}
        bar_hours = float(params.get("bar_hours", self.model.bar_hours))
        regular = clean_frame(model_input, bar_hours)
        features = model_features(regular, bar_hours)
        mask = np.ones(len(features), dtype=bool)
        if params.get("last_only"):
            mask[:-1] = False
        forecast = self.model.predict(features, mask).to_numpy()
        confidence = (self.model.confidence or DEFAULT_CONFIDENCE).score(features, forecast)
        out = pd.DataFrame({"timestamp": features.index, "predicted_rv_24h": forecast, "confidence": confidence})
        return out[mask].reset_index(drop=True)


def signature() -> ModelSignature:
    """Candles in, forecasts out; params `last_only` and `bar_hours` (declared so MLflow passes them)."""
    return ModelSignature(
        inputs=Schema(
            [
                ColSpec("datetime", "timestamp"),
                *[ColSpec("double", c) for c in ("open", "high", "low", "close", "volume")],
            ]
        ),
        outputs=Schema(
            [ColSpec("datetime", "timestamp"), ColSpec("double", "predicted_rv_24h"), ColSpec("double", "confidence")]
        ),
        params=ParamSchema([ParamSpec("last_only", "boolean", False), ParamSpec("bar_hours", "double", 1.0)]),
    )


def log_pyfunc(model: VolatilityModel, workdir: Path, registered_model_name: str | None = None) -> ModelInfo:
    """Log `model` as a pyfunc named "model" in the active run (and register it); returns ModelInfo."""
    state_dir = workdir / STATE_ARTIFACT
    model.save(state_dir)
    info: ModelInfo = mlflow.pyfunc.log_model(
        name=model.name,
        python_model=VolatilityPyfunc(),
        artifacts={STATE_ARTIFACT: str(state_dir)},
        pip_requirements=PIP_REQUIREMENTS,
        signature=signature(),
        registered_model_name=registered_model_name,
    )
    return info


def load_volatility_model(model_uri: str, engine: str = "torch") -> VolatilityModel:
    """Load the fitted model behind a pyfunc URI (runs:/..., models:/name@alias).

    `engine` (MODEL_ENGINE: auto, torch, onnx) picks what runs a BiLSTM's net (`models/engine.py`); torch by
    default, a model that can also be fitted again; serving (`inference.load_predictor`) passes the setting.
    MLflow's requirement check is skipped (`suppress_warnings`): it scans every installed distribution
    on each load, a quarter of a champion's load time, and the model's code is this installed package.
    """
    token = _ENGINE.set(engine)
    try:
        loaded = mlflow.pyfunc.load_model(model_uri, suppress_warnings=True)
    finally:
        _ENGINE.reset(token)
    python_model = loaded.unwrap_python_model()
    if not isinstance(python_model, VolatilityPyfunc):
        raise TypeError(f"{model_uri} is not a crypto-mlops volatility model")
    return python_model.model
