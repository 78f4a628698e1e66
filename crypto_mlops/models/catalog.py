"""Models found by name: each model module registers its classes here with `@register`.

The names are the column names of the backtest table and predictions file and the `name` saved
in a model's state. This module imports only the base class; `crypto_mlops.models.zoo` imports
every model module, so the catalog is complete once the zoo is imported.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

from crypto_mlops.models.base import STATE_FILE, VolatilityModel

# name -> class; tests may add their own doubles to it.
MODEL_CLASSES: dict[str, type[VolatilityModel]] = {}

# name -> why it cannot be built in this install (an optional dependency is missing).
UNAVAILABLE: dict[str, str] = {}

M = TypeVar("M", bound=type[VolatilityModel])


def register(cls: M) -> M:
    """Class decorator: make a model available by its `name`."""
    known = MODEL_CLASSES.get(cls.name)
    if known is not None and known is not cls:
        raise ValueError(f"model name {cls.name!r} is taken by {known.__qualname__}")
    MODEL_CLASSES[cls.name] = cls
    return cls


def missing_model(name: str, reason: str) -> None:
    """Record a known model that this install cannot build, so asking for it says why."""
    UNAVAILABLE[name] = reason


def model_class(name: str) -> type[VolatilityModel]:
    try:
        return MODEL_CLASSES[name]
    except KeyError:
        if name in UNAVAILABLE:
            raise KeyError(f"model {name!r} is not available: {UNAVAILABLE[name]}") from None
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODEL_CLASSES)}") from None


def make_model(name: str, bilstm_config: object | None = None) -> VolatilityModel:
    """A fresh model by name; `bilstm_config` reaches the models that take a config."""
    return model_class(name).build(bilstm_config)


def load_model(directory: Path) -> VolatilityModel:
    """The fitted model saved in `directory` by `VolatilityModel.save`."""
    state = json.loads((directory / STATE_FILE).read_text())
    return model_class(state["name"]).build().restore(state, directory)
