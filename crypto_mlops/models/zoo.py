"""Models found by name: the keys are the column names of the backtest table and predictions file."""

from __future__ import annotations

from typing import Any

from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.baselines import EWMAModel, GarchModel, HarCalendarModel, HarModel, HarXModel, NaiveModel
from crypto_mlops.models.bilstm import BiLSTMConfig, BiLSTMModel

MODEL_CLASSES: dict[str, type[VolatilityModel]] = {
    "naive": NaiveModel,
    "ewma": EWMAModel,
    "garch": GarchModel,
    "har": HarModel,
    "har_calendar": HarCalendarModel,
    "har_x": HarXModel,
    "bilstm": BiLSTMModel,
}
BASELINES = ["naive", "ewma", "garch", "har", "har_calendar", "har_x"]
LEARNED = ["bilstm"]
REFERENCE = "har"  # Diebold-Mariano reference


def make_model(name: str, bilstm_config: BiLSTMConfig | None = None, **_: Any) -> VolatilityModel:
    try:
        cls = MODEL_CLASSES[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODEL_CLASSES)}") from None
    if cls is BiLSTMModel:
        return BiLSTMModel(bilstm_config)
    return cls()
