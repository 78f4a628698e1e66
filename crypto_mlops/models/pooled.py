"""Pooled multi-pair models: build, train on several candle frames, load, and the single-split backtest.

    model = train_pooled({"BTC/USDT": btc_frame, "ETH/USDT": eth_frame}, "bilstm")
    model.pairs                                  # ['BTC/USDT', 'ETH/USDT']: what it was trained on
    model.predict_pair(features, "ETH/USDT")     # RV24 at every origin of one pair's feature frame

Poolable: `har_x`, `har_xsq` (common slopes, one intercept per pair) and `bilstm` (one net; optional
pair embedding, `BiLSTMConfig.pair_embedding`). Their names in tables are `<name>_pooled`. A pooled
model is not in the model catalog (the per-pair zoo is unchanged): `load_pooled` reads one back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol, cast

import numpy as np
import pandas as pd

from crypto_mlops.data.schema import timeframe_hours
from crypto_mlops.features.volatility import bars
from crypto_mlops.models.backtest import (
    WARMUP_HOURS,
    BacktestResult,
    Prepared,
    contenders,
    fit_and_forecast,
    prepare,
    scored_result,
)
from crypto_mlops.models.base import STATE_FILE, VolatilityModel
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.engine import use_onnx
from crypto_mlops.models.pooling import POOLED_BASES, PairPart
from crypto_mlops.models.target import Split, chronological_split

SUFFIX = "_pooled"
POOLABLE = ("har_x", "har_xsq", "bilstm")


class PooledModel(Protocol):
    """What a pooled model offers besides being a `VolatilityModel`."""

    name: ClassVar[str]
    pairs: list[str]

    def fit_pooled(self, parts: Mapping[str, PairPart], bar_hours: float = 1.0) -> VolatilityModel: ...

    def predict_pair(self, features: pd.DataFrame, pair: str | None, mask: np.ndarray | None = None) -> pd.Series: ...

    def warm_start(self, previous: Any) -> None: ...

    def save(self, directory: Path) -> None: ...


def pooled_name(name: str) -> str:
    """`bilstm` -> `bilstm_pooled` (also accepts the pooled name)."""
    return name if name.endswith(SUFFIX) else name + SUFFIX


def make_pooled(name: str, bilstm_config: BiLSTMConfig | None = None) -> PooledModel:
    """A fresh pooled model for `name` (`har_x`, `har_xsq`, `bilstm`, or the same with `_pooled`)."""
    base = name.removesuffix(SUFFIX)
    if base == "bilstm":
        from crypto_mlops.models.bilstm_pooled import PooledBiLSTMModel  # torch only when asked for

        return PooledBiLSTMModel(bilstm_config)
    if base in POOLED_BASES:
        return POOLED_BASES[base]()
    raise KeyError(f"model {name!r} cannot be pooled; choose from {', '.join(POOLABLE)}")


def fit_mask(prepared: Prepared) -> np.ndarray:
    """Every origin with a known target, after the warm-up."""
    known = np.isfinite(prepared.target.to_numpy(float))
    mask: np.ndarray = known & (np.arange(len(known)) >= bars(WARMUP_HOURS, prepared.bar_hours))
    return mask


def train_pooled(
    frames: Mapping[str, pd.DataFrame],
    model: str = "bilstm",
    bilstm_config: BiLSTMConfig | None = None,
    timeframe: str = "1h",
) -> PooledModel:
    """One `model` trained on every origin with a known target of every pair's canonical candle frame."""
    prepared = {pair: prepare(frame, timeframe) for pair, frame in frames.items()}
    parts = {pair: (p.features, p.target, fit_mask(p)) for pair, p in prepared.items()}
    pooled = make_pooled(model, bilstm_config)
    pooled.fit_pooled(parts, timeframe_hours(timeframe))
    return pooled


def load_pooled(directory: Path, engine: str = "torch") -> PooledModel:
    """A pooled model saved with `save(directory)`; `engine` runs a pooled BiLSTM's net (`models/engine.py`)."""
    state = json.loads((directory / STATE_FILE).read_text())
    if use_onnx(state["name"], directory, engine):
        from crypto_mlops.models.bilstm_onnx import OnnxPooledBiLSTMModel  # numpy and onnxruntime only

        model: Any = OnnxPooledBiLSTMModel()
    else:
        model = make_pooled(state["name"])
    restored: PooledModel = model.restore(state, directory)  # type: ignore[attr-defined]
    return restored


def common_split(prepared: Mapping[str, Prepared], train_frac: float) -> dict[str, Split]:
    """Per pair, a split at one shared time: the earliest of the pairs' `train_frac` split times.

    Then no pooled fit sees any pair's candles from the test period of another.
    """
    cut = min(
        pd.DatetimeIndex(p.features.index)[chronological_split(len(p.features), train_frac, p.horizon).train_end]
        for p in prepared.values()
    )
    return {
        pair: Split(len(p.features), int(pd.DatetimeIndex(p.features.index).searchsorted(cut)), p.horizon)
        for pair, p in prepared.items()
    }


def run_pooled_backtest(
    prepared: Mapping[str, Prepared],
    train_frac: float = 0.7,
    models: list[str] | None = None,
    pooled: list[str] | None = None,
    bilstm_config: BiLSTMConfig | None = None,
) -> dict[str, BacktestResult]:
    """Single split on several pairs: per-pair `models` and `pooled` models (fitted once on all), per pair."""
    names = contenders(models)
    splits = common_split(prepared, train_frac)
    raw = {pair: fit_and_forecast(p, splits[pair], names, bilstm_config) for pair, p in prepared.items()}
    masks = {pair: raw[pair][3] for pair in prepared}
    models_pooled: dict[str, PooledModel] = {}
    for name in pooled or []:
        start = time.perf_counter()
        model = make_pooled(name, bilstm_config)
        parts = {pair: (p.features, p.target, masks[pair]) for pair, p in prepared.items()}
        model.fit_pooled(parts, next(iter(prepared.values())).bar_hours)
        for pair, p in prepared.items():
            test = splits[pair].test_mask()
            raw[pair][1][pooled_name(name)] = model.predict_pair(p.features, pair, test).to_numpy()
        for pair in prepared:  # one fit serves every pair
            raw[pair][2][pooled_name(name)] = round(time.perf_counter() - start, 2)
        models_pooled[pooled_name(name)] = model
    results = {
        pair: scored_result(p, splits[pair], raw[pair][0], raw[pair][1], raw[pair][2]) for pair, p in prepared.items()
    }
    for result in results.values():  # after scoring: a pooled model's confidence is not calibrated per pair
        result.models.update({n: cast(VolatilityModel, m) for n, m in models_pooled.items()})
    return results
