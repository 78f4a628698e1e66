"""A pooled model bound to one of its pairs: an ordinary per-pair `VolatilityModel`.

    model = bind(pooled, "ETH/USDT")      # pooled: fitted by `pooled.train_pooled` or a pooled training
    model.predict(features)               # == pooled.predict_pair(features, "ETH/USDT")
    model.save(directory)                 # then `catalog.load_model(directory)` reads it back

Its `name` is the pooled model's (`bilstm_pooled`), so tables, the gate and the registry's `model_type`
tag say it is the pooled one; `version_tags` adds `pooled.pair`, `pooled.pairs` and `pooled.model`.
It is saved as its own state (kind `pooled_pair`, the pair in its params) with the pooled model's save
in `pooled/` beside it; the catalog imports this module only when it loads such a model. It cannot be
fitted on one pair's frame: a new fit is a new pooled training.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.schema import normalize_symbol
from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.catalog import register_kind
from crypto_mlops.models.pooled import PooledModel, load_pooled

KIND = "pooled_pair"
INNER_DIR = "pooled"  # the pooled model's own save, beside the bound model's state


class PooledPairModel(VolatilityModel):
    """Forecasts of a pooled model for one pair. Made by `bind`; `bound_class` gives the class per pooled name."""

    name = "pooled_pair"
    saved_kind = KIND

    def __init__(self, pooled: PooledModel | None = None, pair: str = "") -> None:
        super().__init__()
        self.pooled = pooled
        self.pair = pair
        if pooled is not None:
            inner = _model(pooled)
            self.bar_hours, self.fitted, self.engine = inner.bar_hours, inner.fitted, inner.engine

    @property
    def sequence_length(self) -> int | None:
        return _model(self.pooled).sequence_length if self.pooled is not None else None

    def predict(self, features: pd.DataFrame, mask: np.ndarray | None = None) -> pd.Series:
        if not self.fitted or self.pooled is None:
            raise RuntimeError(f"model {self.name!r} is not fitted")
        return self.pooled.predict_pair(features, self.pair, mask).rename(self.name)

    def _predict(self, features: pd.DataFrame) -> np.ndarray:
        forecast: np.ndarray = self.predict(features).to_numpy(float)
        return forecast

    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None:
        raise TypeError(f"{self.name} bound to {self.pair} is fitted by a pooled training on several pairs")

    def version_tags(self) -> dict[str, str]:
        pairs = self.pooled.pairs if self.pooled is not None else []
        return {"pooled.pair": self.pair, "pooled.pairs": ",".join(pairs), "pooled.model": self.name}

    def params(self) -> dict[str, Any]:
        pairs = list(self.pooled.pairs) if self.pooled is not None else []
        return {"pair": self.pair, "pairs": pairs, "pooled": self.name}

    def set_params(self, params: dict[str, Any]) -> None:
        self.pair = str(params["pair"])

    def _save_extra(self, directory: Path) -> None:
        if self.pooled is None:
            raise RuntimeError(f"model {self.name!r} is not bound to a pooled model")
        self.pooled.save(directory / INNER_DIR)


def _model(pooled: PooledModel | None) -> VolatilityModel:
    """Every pooled model is a `VolatilityModel` too (the protocol lists only what pooling adds)."""
    return cast(VolatilityModel, pooled)


_CLASSES: dict[str, type[PooledPairModel]] = {}


def bound_class(pooled: PooledModel) -> type[PooledPairModel]:
    """The bound class of `pooled`'s kind: named, typed and with the inputs of the pooled model."""
    inner = cast(type[VolatilityModel], type(pooled))
    if inner.name not in _CLASSES:
        attrs = {"name": inner.name, "model_type": inner.model_type, "inputs": inner.inputs, "__module__": __name__}
        _CLASSES[inner.name] = type(f"PooledPairModel_{inner.name}", (PooledPairModel,), attrs)
    return _CLASSES[inner.name]


def own_pair(pooled: PooledModel, pair: str) -> str:
    """`pair` as `pooled` spells it; InvalidInput when the pooled model was not trained on it."""
    try:
        wanted = normalize_symbol(pair)
    except InvalidInput:
        wanted = pair
    for known in pooled.pairs:
        if known in (pair, wanted):
            return known
    raise InvalidInput(f"{_model(pooled).name} was trained on {', '.join(pooled.pairs)}: it cannot be bound to {pair}")


def bind(pooled: PooledModel, pair: str) -> PooledPairModel:
    """`pooled` as the model of one of the pairs it was trained on (InvalidInput for any other pair)."""
    return bound_class(pooled)(pooled, own_pair(pooled, pair))


def load_bound(state: dict[str, Any], directory: Path, engine: str = "torch") -> VolatilityModel:
    """What `PooledPairModel.save` wrote in `directory` (`state`: its state.json); the catalog's loader.

    `engine`: what runs a pooled BiLSTM's net (`crypto_mlops.models.engine`). The pooled model is read first and
    bound to the saved pair, which `bind` checks; `restore` then adds the confidence."""
    pooled = load_pooled(directory / INNER_DIR, engine)
    return bind(pooled, str(state["params"]["pair"])).restore(state, directory)


register_kind(KIND, load_bound)
