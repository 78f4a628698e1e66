"""Walk-forward backtest: refit every model on a schedule and forecast as the pipeline would have.

At each refit point p (a row position), every model is fitted on the frame cut at p, on the origins
whose 24 h target window closed before p (expanding, or the trailing `window`), and forecasts every
origin of [p, next refit). The cut frame guarantees that no fit sees a candle at or after p. Learned
models may warm-start from their previous fit (`VolatilityModel.warm_start`), or, with `retrain_every`,
keep their fit between retrains from scratch on a slower calendar (`retrain_marks`).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crypto_mlops.features.volatility import bars
from crypto_mlops.models import confidence, quantiles
from crypto_mlops.models.backtest import WARMUP_HOURS, ForecastTable, Prepared, contenders, score
from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.har import HarModel
from crypto_mlops.models.mcs import MCS_SIZE, model_confidence_set
from crypto_mlops.models.metrics import qlike_losses
from crypto_mlops.models.zoo import REFERENCE, make_model, model_class

MIN_TRAIN_ORIGINS = 200
WEEK = pd.Timedelta(days=7)


@dataclass(frozen=True)
class WalkForwardConfig:
    refit_every: pd.Timedelta = WEEK
    window: pd.Timedelta | None = None  # None: expanding; else the trailing span of training origins
    har_window: pd.Timedelta | None = None  # HAR-family models only: this trailing span instead of `window`
    start: pd.Timestamp | None = None  # first forecast origin; None: after `train_frac` of the rows
    train_frac: float = 0.7
    warm_start: bool = True  # learned models fine-tune from their previous fit
    # learned models only: None, refit at every mark like the baselines; else keep the fit (net and base)
    # between marks and retrain it from scratch at the first mark on or after each `t0 + k * retrain_every`
    retrain_every: pd.Timedelta | None = None
    mcs_size: float = MCS_SIZE
    mcs_reps: int = 1000
    progress: bool = True

    def describe(self) -> dict[str, Any]:
        return {
            "refit_every": span_text(self.refit_every),
            "window": "expanding" if self.window is None else f"rolling:{span_text(self.window)}",
            "har_window": None if self.har_window is None else f"rolling:{span_text(self.har_window)}",
            "warm_start": self.warm_start,
            "retrain_every": None if self.retrain_every is None else span_text(self.retrain_every),
        }


def parse_window(text: str) -> pd.Timedelta | None:
    """'expanding' -> None; 'rolling:365d' -> 365 days."""
    if text == "expanding":
        return None
    kind, _, span = text.partition(":")
    if kind != "rolling" or not span:
        raise ValueError(f"window must be 'expanding' or 'rolling:<span>' (e.g. rolling:365d), got {text!r}")
    return parse_span(span)


def parse_span(text: str) -> pd.Timedelta:
    span = pd.Timedelta(re.sub(r"(?<=\d)d$", "D", text.strip()))  # '7d' as users write it; pandas wants 'D'
    if span <= pd.Timedelta(0):
        raise ValueError(f"span must be positive, got {text!r}")
    return span


def span_text(span: pd.Timedelta) -> str:
    """7 days -> '7d', 36 hours -> '36h' (as the options are written)."""
    hours = span.total_seconds() / 3600
    return f"{hours / 24:g}d" if hours % 24 == 0 else f"{hours:g}h"


def refit_blocks(
    index: pd.DatetimeIndex, first: int, end: int, every: pd.Timedelta, t0: pd.Timestamp | None = None
) -> list[tuple[int, int]]:
    """[p, q) row blocks from `first` to `end`: a refit at `t0 + k * every`, k = 0, 1, ... (t0: `index[first]`).

    An earlier `t0` (pooled runs share one calendar) drops the marks before `first`.
    """
    if end <= first:
        return []
    t0, t_end = (index[first] if t0 is None else t0), index[end - 1]
    marks = pd.date_range(t0, t_end, freq=every) if every > pd.Timedelta(0) else pd.DatetimeIndex([t0])
    starts = sorted({int(p) for p in index.searchsorted(marks) if first <= p < end})
    return list(zip(starts, [*starts[1:], end], strict=True))


def retrain_marks(stamps: list[pd.Timestamp], every: pd.Timedelta | None) -> set[pd.Timestamp]:
    """Of the refit times `stamps` (in order), those at which a held learned model is retrained: the first,
    then the first one on or after each later `stamps[0] + k * every`. `every` None: all of them."""
    if every is None or not stamps:
        return set(stamps)
    out, due = set(), stamps[0]
    for t in stamps:
        if t >= due:
            out.add(t)
            while due <= t:
                due += every
    return out


def held(name: str, config: WalkForwardConfig) -> bool:
    """Whether model `name` keeps its fit between retrains (learned models, with `retrain_every` set)."""
    return config.retrain_every is not None and model_class(name).model_type != "baseline"


@dataclass
class Refit:
    """One refit of one model: when, on which origins, and how long it took."""

    model: str
    at: str  # timestamp of the refit point (first origin forecast)
    forecast_until: str  # last origin forecast by this fit
    train_first: str
    train_last: str  # last training origin; its target window closes before `at`
    train_origins: int
    seconds: float


@dataclass
class ModelRun:
    """One model's walk-forward on one pair: forecasts, quantile band, refits and their seconds."""

    forecast: np.ndarray
    band: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    refits: list[Refit] = field(default_factory=list)
    seconds: float = 0.0
    conf: np.ndarray = field(default_factory=lambda: np.zeros(0))  # stated confidence per origin (NaN outside)


@dataclass
class WalkForwardResult(ForecastTable):
    table: list[dict[str, Any]]
    predictions: pd.DataFrame  # realized, one RV24 column per model, then `<model>_q10/_q50/_q90`
    split: dict[str, Any]
    mcs: dict[str, Any]
    refits: list[Refit] = field(default_factory=list)
    fit_seconds: dict[str, float] = field(default_factory=dict)
    confidence: dict[str, np.ndarray] = field(default_factory=dict)  # per model, on the rows of `predictions`

    def row(self, name: str) -> dict[str, Any]:
        return next(r for r in self.table if r["model"] == name)

    def to_dict(self) -> dict[str, Any]:
        fits = {m: sum(r.model == m for r in self.refits) for m in self.fit_seconds}  # held blocks are not fits
        per_refit = {m: round(s / max(1, fits[m]), 3) for m, s in self.fit_seconds.items()}
        return {
            "mode": "walk-forward",
            "split": self.split,
            "table": self.table,
            "mcs": self.mcs,
            "fit_seconds": self.fit_seconds,
            "fit_seconds_per_refit": per_refit,
            "fits": fits,
        }


def first_origin(prepared: Prepared, config: WalkForwardConfig) -> int:
    """Row of the first forecast origin: `start`, or the single split's test start (origin for origin)."""
    n = len(prepared.features)
    if config.start is None:
        if not 0.05 <= config.train_frac <= 0.95:
            raise ValueError(f"train_frac must be in [0.05, 0.95], got {config.train_frac}")
        return round(n * config.train_frac)
    start = pd.Timestamp(config.start)
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    return int(pd.DatetimeIndex(prepared.features.index).searchsorted(start))


def train_mask(n: int, p: int, horizon: int, warmup: int, window: int | None) -> np.ndarray:
    """Origins usable by a fit at p: past the warm-up, target window closed before p, within the window."""
    lo = warmup if window is None else max(warmup, p - horizon - window)
    m = np.zeros(n, dtype=bool)
    m[lo : max(lo, p - horizon)] = True
    return m


def progress_bar(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="walk-forward", unit="fit", disable=not enabled, leave=False)


def _fits(
    prepared: Prepared, name: str, blocks: list[tuple[int, int]], config: WalkForwardConfig, model_config: object
) -> Iterator[tuple[int, int, VolatilityModel, np.ndarray, float]]:
    """Each block of model `name`: (p, q, model, its training mask, seconds); a held model (`held`) comes
    back unchanged between retrains, with an empty mask and 0 s."""
    f, y = prepared.features, prepared.target
    n, h = len(f), prepared.horizon
    warmup = bars(WARMUP_HOURS, prepared.bar_hours)
    span = (
        config.har_window
        if config.har_window is not None and issubclass(model_class(name), HarModel)
        else config.window
    )
    window = None if span is None else bars(span.total_seconds() / 3600, prepared.bar_hours)
    index = pd.DatetimeIndex(f.index)
    hold = held(name, config)
    retrain = retrain_marks([index[p] for p, _ in blocks], config.retrain_every if hold else None)
    previous: VolatilityModel | None = None
    for p, q in blocks:
        if previous is not None and index[p] not in retrain:
            yield p, q, previous, np.zeros(n, dtype=bool), 0.0  # held: no fit, nothing new trained on
            continue
        mask = train_mask(n, p, h, warmup, window)
        if mask.sum() < MIN_TRAIN_ORIGINS:
            raise ValueError(f"only {int(mask.sum())} training origins at the refit of {f.index[p]}")
        start = time.perf_counter()
        model = make_model(name, bilstm_config=model_config)
        if config.warm_start and previous is not None and not hold:  # a scheduled retrain starts from scratch
            model.warm_start(previous)
        model.fit(f.iloc[:p], y.iloc[:p], mask[:p], prepared.bar_hours)
        yield p, q, model, mask, time.perf_counter() - start
        previous = model


def schedule(prepared: Prepared, config: WalkForwardConfig, t0: pd.Timestamp | None = None) -> list[tuple[int, int]]:
    """The refit blocks of a run: from the first origin to the last known target."""
    n, h = len(prepared.features), prepared.horizon
    index = pd.DatetimeIndex(prepared.features.index)
    first, end = first_origin(prepared, config), n - h
    blocks = refit_blocks(index, first, end, config.refit_every, t0)
    if not blocks or end - blocks[0][0] < 10:
        raise ValueError(f"no forecast origins between {index[min(first, n - 1)]} and the last known target")
    return blocks


def quiet(bilstm_config: BiLSTMConfig | None) -> BiLSTMConfig:
    # One bar for the whole run: the BiLSTM's per-epoch bar would print at every refit.
    return dataclasses.replace(bilstm_config or BiLSTMConfig(), progress=False)


def run_walk_forward(
    prepared: Prepared,
    config: WalkForwardConfig | None = None,
    models: list[str] | None = None,
    bilstm_config: BiLSTMConfig | None = None,
) -> WalkForwardResult:
    """Refit every model at each point of the schedule, forecast until the next, score all origins."""
    config = config or WalkForwardConfig()
    names = contenders(models)
    bilstm_config = quiet(bilstm_config)
    blocks = schedule(prepared, config)
    runs: dict[str, ModelRun] = {}
    with progress_bar(len(blocks) * len(names), config.progress) as bar:
        for name in names:
            bar.set_description(f"walk-forward {name}")
            runs[name] = _walk_model(prepared, name, blocks, config, bilstm_config, bar)
    return assemble(prepared, config, blocks, runs)


def _walk_model(
    prepared: Prepared,
    name: str,
    blocks: list[tuple[int, int]],
    config: WalkForwardConfig,
    bilstm_config: BiLSTMConfig,
    bar: Any,
) -> ModelRun:
    f, realized = prepared.features, prepared.target.to_numpy(float)
    index = pd.DatetimeIndex(f.index)
    run = ModelRun(np.full(len(f), np.nan))
    seed = np.zeros(0)
    conf_seed: confidence.Sample | None = None
    for p, q, model, mask, took in _fits(prepared, name, blocks, config, bilstm_config):
        block = np.zeros(q, dtype=bool)
        block[p:q] = True
        run.forecast[p:q] = model.predict(f.iloc[:q], block).to_numpy()[p:q]
        if p == blocks[0][0]:
            seed, conf_seed = tail_seeds(model.predict, f.iloc[:p], realized[:p], mask[:p])
        if mask.any():  # a fit, not a held model
            run.seconds += took
            run.refits.append(refit_record(name, index, p, q, mask, took))
        bar.update(1)
    run.band = quantiles.block_quantiles(realized, run.forecast, blocks, prepared.horizon, seed)
    run.conf = confidence.block_confidence(f, realized, run.forecast, blocks, prepared.horizon, conf_seed)
    run.seconds = round(run.seconds, 2)
    return run


def refit_record(name: str, index: pd.DatetimeIndex, p: int, q: int, mask: np.ndarray, took: float) -> Refit:
    used = np.flatnonzero(mask)
    return Refit(
        name,
        index[p].isoformat(),
        index[q - 1].isoformat(),
        index[used[0]].isoformat(),
        index[used[-1]].isoformat(),
        len(used),
        round(took, 3),
    )


def assemble(
    prepared: Prepared, config: WalkForwardConfig, blocks: list[tuple[int, int]], runs: dict[str, ModelRun]
) -> WalkForwardResult:
    """Score every model's walk-forward on the origins where all of them have a forecast and a band."""
    f, y = prepared.features, prepared.target
    n, h = len(f), prepared.horizon
    index = pd.DatetimeIndex(f.index)
    first, end = blocks[0][0], n - h
    realized = y.to_numpy(float)
    forecasts = {nm: r.forecast for nm, r in runs.items()}
    bands = {nm: r.band for nm, r in runs.items()}
    common = np.zeros(n, dtype=bool)
    common[first:end] = True
    common &= np.isfinite(realized)
    for name in runs:
        common &= np.isfinite(forecasts[name]) & (forecasts[name] > 0) & np.isfinite(bands[name]).all(axis=1)
    if common.sum() < 10:
        raise ValueError("fewer than 10 origins where every model has a forecast")
    table = score(realized[common], {nm: fc[common] for nm, fc in forecasts.items()})
    mcs = model_confidence_set(
        {r["model"]: qlike_losses(realized[common], forecasts[r["model"]][common]) for r in table},
        size=config.mcs_size,
        block_size=h,
        reps=config.mcs_reps,
    )
    for r in table:
        band = bands[r["model"]][common]
        r["cov80"] = quantiles.coverage(realized[common], band[:, 0], band[:, 2])
        r["pinball"] = quantiles.pinball(realized[common], band)
        r["mcs_p"] = mcs["pvalues"][r["model"]]
        r["in_mcs"] = r["model"] in mcs["included"]
        r["fit_seconds"] = runs[r["model"]].seconds
    columns: dict[str, np.ndarray] = {"realized": realized[common]}
    columns.update({nm: fc[common] for nm, fc in forecasts.items()})
    for nm, band in bands.items():
        for j, suffix in enumerate(quantiles.SUFFIXES):
            columns[nm + suffix] = band[common, j]
    predictions = pd.DataFrame(columns, index=index[common])
    predictions.index.name = "timestamp"
    split = _split_info(prepared, index, first, common, blocks, config)
    refits = [rf for r in runs.values() for rf in r.refits]
    stated = {nm: r.conf[common] for nm, r in runs.items() if len(r.conf)}
    seconds = {nm: r.seconds for nm, r in runs.items()}
    return WalkForwardResult(table, predictions, split, mcs, refits, seconds, stated)


def tail_seeds(
    predict: Callable[[pd.DataFrame, np.ndarray], pd.Series],
    features: pd.DataFrame,
    realized: np.ndarray,
    mask: np.ndarray,
) -> tuple[np.ndarray, confidence.Sample]:
    """A first fit's last `CAL_ORIGINS` training origins, forecast once: their log errors seed the quantile
    bands and their hits the confidence, until out-of-sample ones exist."""
    tail = np.zeros(len(mask), dtype=bool)
    tail[np.flatnonzero(mask)[-quantiles.CAL_ORIGINS :]] = True
    fc = predict(features, tail).to_numpy()
    err = quantiles.log_errors(realized, fc)
    tail_errors: np.ndarray = err[tail & np.isfinite(err)]
    return tail_errors, confidence.Sample.of(features, realized, fc, tail)


def _split_info(
    prepared: Prepared,
    index: pd.DatetimeIndex,
    first: int,
    scored: np.ndarray,
    blocks: list[tuple[int, int]],
    config: WalkForwardConfig,
) -> dict[str, Any]:
    scored_idx = index[scored]
    return {
        "rows": len(index),
        "filled_bars": prepared.filled,
        "bar_hours": prepared.bar_hours,
        "horizon_bars": prepared.horizon,
        "train_start": index[0].isoformat(),
        "first_refit": index[first].isoformat(),
        "refits": len(blocks),
        "refit_points": [index[p].isoformat() for p, _ in blocks],
        **config.describe(),
        "test_start": scored_idx[0].isoformat(),
        "test_end": scored_idx[-1].isoformat(),
        "test_origins": int(scored.sum()),
        "dm_reference": REFERENCE,
        "dm_hac_lags": 24,
        "mcs_size": config.mcs_size,
        "quantile_calibration_origins": quantiles.CAL_ORIGINS,
    }
