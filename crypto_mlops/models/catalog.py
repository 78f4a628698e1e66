"""Models found by name: each model module registers its classes here with `@register`.

The names are the column names of the backtest table and predictions file and the `name` saved
in a model's state. This module imports only the base class; `crypto_mlops.models.zoo` imports
every model module, so the catalog is complete once the zoo is imported. Models with a heavy module
(torch) are listed in `LAZY` and imported the first time they are asked for by name, so a process
that serves a baseline never loads torch. `load_model(directory, engine)` reads a saved model back; with
engine `auto` or `onnx` (MODEL_ENGINE) a BiLSTM saved with `net.onnx` comes back torch-free
(`models/bilstm_onnx.py`, registered in `ONNX_LOADERS`).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from crypto_mlops.models.base import STATE_FILE, VolatilityModel
from crypto_mlops.models.engine import use_onnx

# name -> class; tests may add their own doubles to it.
MODEL_CLASSES: dict[str, type[VolatilityModel]] = {}

# name -> why it cannot be built in this install (an optional dependency is missing).
UNAVAILABLE: dict[str, str] = {}

# name -> (module that registers it, the third-party module it needs, how to install that); imported on
# first use. `known_names` checks the third-party module is installed without importing it.
LAZY: dict[str, tuple[str, str, str]] = {
    "bilstm": ("crypto_mlops.models.bilstm", "torch", "the BiLSTM needs torch: pip install 'crypto-mlops[train]'"),
}

# Saved models that wrap another one carry a `kind` in their state (`VolatilityModel.saved_kind`): kind -> the
# module that registers its loader (`register_kind`), imported by the first `load_model` that meets it, so
# a process serving a baseline never imports it. Such models are loaded only, never listed or built by name.
LAZY_KINDS: dict[str, str] = {"pooled_pair": "crypto_mlops.models.pooled_pair"}

# Saved BiLSTMs run by ONNX Runtime instead of torch (MODEL_ENGINE, `models/engine.py`): name -> (state.json,
# directory) -> the model; filled by this module, imported by the first `load_model` that runs such a net.
LAZY_ONNX = "crypto_mlops.models.bilstm_onnx"
ONNX_LOADERS: dict[str, Callable[[dict[str, Any], Path], VolatilityModel]] = {}

# kind -> (state.json, directory, engine) -> the fitted model.
KindLoader = Callable[[dict[str, Any], Path, str], VolatilityModel]
KIND_LOADERS: dict[str, KindLoader] = {}

M = TypeVar("M", bound=type[VolatilityModel])


def register(cls: M) -> M:
    """Class decorator: make a model available by its `name`."""
    known = MODEL_CLASSES.get(cls.name)
    if known is not None and known is not cls:
        raise ValueError(f"model name {cls.name!r} is taken by {known.__qualname__}")
    MODEL_CLASSES[cls.name] = cls
    return cls


def register_kind(kind: str, loader: KindLoader) -> None:
    """Make saved models of `kind` loadable by `load_model`."""
    KIND_LOADERS[kind] = loader


def missing_model(name: str, reason: str) -> None:
    """Record a known model that this install cannot build, so asking for it says why."""
    UNAVAILABLE[name] = reason


def _import_lazy(name: str) -> None:
    module, _, install = LAZY[name]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module or (exc.name or "").startswith("crypto_mlops"):
            raise
        missing_model(name, install)


def import_all() -> None:
    """Register every model, the lazy ones too (those whose dependencies are installed)."""
    for name in LAZY:
        if name not in MODEL_CLASSES and name not in UNAVAILABLE:
            _import_lazy(name)


def _installed(name: str) -> bool:
    """Whether a lazy model's third-party dependency is installed, without importing it (torch is big)."""
    return importlib.util.find_spec(LAZY[name][1]) is not None


def known_names() -> list[str]:
    """Every model this install can build, lazy ones included, without importing the lazy modules."""
    lazy = [n for n in LAZY if n not in MODEL_CLASSES and n not in UNAVAILABLE and _installed(n)]
    return [*MODEL_CLASSES, *lazy]


def model_class(name: str) -> type[VolatilityModel]:
    if name not in MODEL_CLASSES and name in LAZY and name not in UNAVAILABLE:
        _import_lazy(name)
    try:
        return MODEL_CLASSES[name]
    except KeyError:
        if name in UNAVAILABLE:
            raise KeyError(f"model {name!r} is not available: {UNAVAILABLE[name]}") from None
        raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODEL_CLASSES)}") from None


def make_model(name: str, bilstm_config: object | None = None) -> VolatilityModel:
    """A fresh model by name; `bilstm_config` reaches the models that take a config."""
    return model_class(name).build(bilstm_config)


def register_onnx_loader(name: str, loader: Callable[[dict[str, Any], Path], VolatilityModel]) -> None:
    """Make saved models named `name` loadable with their net under ONNX Runtime."""
    ONNX_LOADERS[name] = loader


def load_model(directory: Path, engine: str = "torch") -> VolatilityModel:
    """The fitted model saved in `directory` by `VolatilityModel.save`.

    `engine` (`MODEL_ENGINE`: auto, torch, onnx; serving passes the setting) picks what runs a BiLSTM's
    net (`models/engine.py`): under ONNX Runtime torch is never imported, and the model only forecasts.
    """
    state = json.loads((directory / STATE_FILE).read_text())
    kind = state.get("kind")
    if not kind:
        if use_onnx(state["name"], directory, engine):
            if state["name"] not in ONNX_LOADERS:
                importlib.import_module(LAZY_ONNX)
            return ONNX_LOADERS[state["name"]](state, directory)
        return model_class(state["name"]).build().restore(state, directory)
    if kind not in KIND_LOADERS and kind in LAZY_KINDS:
        importlib.import_module(LAZY_KINDS[kind])
    if kind not in KIND_LOADERS:
        raise KeyError(f"unknown kind {kind!r} of saved model {state['name']!r}")
    return KIND_LOADERS[kind](state, directory, engine)
