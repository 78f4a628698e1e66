"""Walk-forward on several pairs: per-pair models and pooled models side by side, scored per pair.

All pairs share one refit calendar (marks every `refit_every` from the earliest first origin). At each
mark every pooled model is fitted once on all pairs, each pair cut at the mark (so no fit sees a candle
of any pair at or after it), and forecasts every pair until the next mark. Per-pair models run as in
`run_walk_forward`. Each pair then gets its own table, MCS and quantile bands, in which a pooled model
appears as `<name>_pooled` next to `<name>`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from crypto_mlops.features.volatility import bars
from crypto_mlops.models import confidence, quantiles
from crypto_mlops.models.backtest import WARMUP_HOURS, Prepared, contenders
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.pooled import PooledModel, make_pooled, pooled_name
from crypto_mlops.models.pooling import PairPart
from crypto_mlops.models.walkforward import (
    MIN_TRAIN_ORIGINS,
    ModelRun,
    WalkForwardConfig,
    WalkForwardResult,
    _walk_model,
    assemble,
    first_origin,
    progress_bar,
    quiet,
    refit_record,
    retrain_marks,
    schedule,
    tail_seeds,
    train_mask,
)


def run_pooled_walk_forward(
    prepared: Mapping[str, Prepared],
    config: WalkForwardConfig | None = None,
    models: list[str] | None = None,
    pooled: list[str] | None = None,
    bilstm_config: BiLSTMConfig | None = None,
) -> dict[str, WalkForwardResult]:
    """Per pair: the walk-forward table of `models` (each fitted on that pair) and of `pooled` (fitted on all)."""
    config = config or WalkForwardConfig()
    names = contenders(models)
    pooled = list(pooled or [])
    bilstm_config = quiet(bilstm_config)
    t0 = min(pd.DatetimeIndex(p.features.index)[first_origin(p, config)] for p in prepared.values())
    blocks = {pair: schedule(p, config, t0) for pair, p in prepared.items()}
    runs: dict[str, dict[str, ModelRun]] = {pair: {} for pair in prepared}
    total = sum(len(b) for b in blocks.values()) * len(names) + len(_marks(blocks, prepared)) * len(pooled)
    with progress_bar(total, config.progress) as bar:
        for pair, p in prepared.items():
            for name in names:
                bar.set_description(f"walk-forward {pair} {name}")
                runs[pair][name] = _walk_model(p, name, blocks[pair], config, bilstm_config, bar)
        for name in pooled:
            bar.set_description(f"walk-forward {pooled_name(name)}")
            for pair, run in _walk_pooled(prepared, name, blocks, config, bilstm_config, bar).items():
                runs[pair][pooled_name(name)] = run
    return {pair: assemble(p, config, blocks[pair], runs[pair]) for pair, p in prepared.items()}


def _marks(blocks: Mapping[str, list[tuple[int, int]]], prepared: Mapping[str, Prepared]) -> list[pd.Timestamp]:
    """Every refit time of any pair, in order."""
    stamps = {pd.DatetimeIndex(prepared[pair].features.index)[p] for pair, b in blocks.items() for p, _ in b}
    return sorted(stamps)


def _walk_pooled(
    prepared: Mapping[str, Prepared],
    name: str,
    blocks: Mapping[str, list[tuple[int, int]]],
    config: WalkForwardConfig,
    bilstm_config: BiLSTMConfig,
    bar: Any,
) -> dict[str, ModelRun]:
    runs = {pair: ModelRun(np.full(len(p.features), np.nan)) for pair, p in prepared.items()}
    seeds = {pair: np.zeros(0) for pair in prepared}
    conf_seeds: dict[str, confidence.Sample] = {}
    block_at = {
        pair: {pd.DatetimeIndex(prepared[pair].features.index)[p]: (p, q) for p, q in b} for pair, b in blocks.items()
    }
    marks, hold = _marks(blocks, prepared), held_pooled(name, config)
    retrain = retrain_marks(marks, config.retrain_every if hold else None)
    bar_hours = next(iter(prepared.values())).bar_hours
    previous: PooledModel | None = None
    for mark in marks:
        parts: dict[str, PairPart] = {}
        masks: dict[str, np.ndarray] = {}
        for pair, prep in prepared.items():
            cut = int(pd.DatetimeIndex(prep.features.index).searchsorted(mark))
            mask = _pair_mask(prep, cut, config)
            if mask.sum() >= MIN_TRAIN_ORIGINS:
                parts[pair] = (prep.features.iloc[:cut], prep.target.iloc[:cut], mask[:cut])
                masks[pair] = mask
        if not parts:
            raise ValueError(f"no pair has {MIN_TRAIN_ORIGINS} training origins at the refit of {mark}")
        fitted = previous is None or mark in retrain
        if fitted:
            model, took = _fit_pooled(name, parts, bar_hours, None if hold else previous, config, bilstm_config)
        else:  # held between scheduled retrains: net, base and correction as they were
            assert previous is not None
            model, took = previous, 0.0
        for pair, prep in prepared.items():
            if mark not in block_at[pair]:
                continue
            p, q = block_at[pair][mark]
            f, realized = prep.features, prep.target.to_numpy(float)
            block = np.zeros(q, dtype=bool)
            block[p:q] = True
            runs[pair].forecast[p:q] = model.predict_pair(f.iloc[:q], pair, block).to_numpy()[p:q]
            mask = masks.get(pair, np.zeros(len(f), dtype=bool))
            if p == blocks[pair][0][0] and mask.any():
                seeds[pair], conf_seeds[pair] = tail_seeds(_for_pair(model, pair), f.iloc[:p], realized[:p], mask[:p])
            runs[pair].seconds += took / len(prepared)  # one fit serves every pair: its time is shared
            if mask.any() and fitted:
                runs[pair].refits.append(
                    refit_record(pooled_name(name), pd.DatetimeIndex(f.index), p, q, mask, took / len(prepared))
                )
        bar.update(1)
        previous = model
    for pair, prep in prepared.items():
        run = runs[pair]
        run.band = quantiles.block_quantiles(
            prep.target.to_numpy(float), run.forecast, blocks[pair], prep.horizon, seeds[pair]
        )
        run.conf = confidence.block_confidence(
            prep.features, prep.target.to_numpy(float), run.forecast, blocks[pair], prep.horizon, conf_seeds.get(pair)
        )
        run.seconds = round(run.seconds, 2)
    return runs


def held_pooled(name: str, config: WalkForwardConfig) -> bool:
    """Whether pooled model `name` keeps its fit between retrains (the BiLSTM, with `retrain_every` set)."""
    return config.retrain_every is not None and name.removesuffix("_pooled") == "bilstm"


def _fit_pooled(
    name: str,
    parts: dict[str, PairPart],
    bar_hours: float,
    previous: PooledModel | None,
    config: WalkForwardConfig,
    bilstm_config: BiLSTMConfig,
) -> tuple[PooledModel, float]:
    """A pooled fit on `parts` and its seconds; warm-started from `previous` if given and `warm_start`."""
    start = time.perf_counter()
    model = make_pooled(name, bilstm_config)
    if config.warm_start and previous is not None:
        model.pairs = list(parts)  # the warm start only carries over between fits on the same pairs
        model.warm_start(previous)
    model.fit_pooled(parts, bar_hours)
    return model, time.perf_counter() - start


def _for_pair(model: PooledModel, pair: str) -> Callable[[pd.DataFrame, np.ndarray], pd.Series]:
    def predict(features: pd.DataFrame, mask: np.ndarray) -> pd.Series:
        return model.predict_pair(features, pair, mask)

    return predict


def _pair_mask(prep: Prepared, cut: int, config: WalkForwardConfig) -> np.ndarray:
    span = config.window
    window = None if span is None else bars(span.total_seconds() / 3600, prep.bar_hours)
    return train_mask(len(prep.features), cut, prep.horizon, bars(WARMUP_HOURS, prep.bar_hours), window)
