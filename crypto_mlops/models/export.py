"""Point-in-time forecast export: for every candle of a range, the RV24 forecast as it was known then.

The walk-forward engine (`models/walkforward.py`) forecasts every origin whose 24 h future is known.
The candles of the last day have no such future, yet a live system forecast them too, with the model
of the latest refit. This module runs the engine, then continues its refit schedule into that tail:
each tail block is fitted at its refit point p on the same training origins the engine would use,
and its quantiles come from the errors known before p. The frame is cut at the end of the range, so
no row can see a candle after the range, and within it no row sees a candle after its own.

A row dated t is the forecast made with the candle that opens at t (features include its close),
the convention of freqtrade, whose signals on candle t act at the open of t + 1.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crypto_mlops.data.schema import OHLCV_COLUMNS, canonical_frame
from crypto_mlops.features.volatility import bars
from crypto_mlops.models import quantiles
from crypto_mlops.models.backtest import WARMUP_HOURS, Prepared, prepare
from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.walkforward import (
    WEEK,
    WalkForwardConfig,
    first_origin,
    refit_blocks,
    run_walk_forward,
    tail_seeds,
    train_mask,
)
from crypto_mlops.models.zoo import MODEL_CLASSES, make_model
from crypto_mlops.signals.heuristic import vol_regime

COLUMNS = (
    "date",
    "pair",
    "predicted_rv_24h",
    "q10",
    "q50",
    "q90",
    "predicted_volatility",
    "volatility_regime",
    "model_name",
    "model_version",
    "fitted_until",
)
FORMATS = (".feather", ".parquet", ".csv")


@dataclass(frozen=True)
class ExportConfig:
    start: pd.Timestamp  # first candle exported (UTC)
    end: pd.Timestamp | None = None  # last candle exported; None: the last candle of the data
    model: str = "har_x"
    refit_every: pd.Timedelta = WEEK
    window: pd.Timedelta | None = None  # None: expanding training window


def _utc(ts: pd.Timestamp | str) -> pd.Timestamp:
    t = pd.Timestamp(ts)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def export_forecasts(frame: pd.DataFrame, timeframe: str, config: ExportConfig, pair: str = "BTC/USDT") -> pd.DataFrame:
    """One row per candle in [start, end]: forecast, quantiles, regime and the fit that produced it."""
    if config.model not in MODEL_CLASSES:
        raise ValueError(f"unknown model {config.model!r}; choose from {', '.join(MODEL_CLASSES)}")
    start = _utc(config.start)
    index = pd.DatetimeIndex(frame.index)
    end = _utc(config.end) if config.end is not None else index[-1]
    if end < start:
        raise ValueError(f"--to ({end}) is before --from ({start})")
    cut = frame.loc[index <= end]  # nothing after the range can reach any row
    prepared = prepare(cut, timeframe)
    wf_config = WalkForwardConfig(
        refit_every=config.refit_every, window=config.window, start=start, progress=False, mcs_reps=50
    )
    return _export(prepared, wf_config, config.model, pair)


def _export(prepared: Prepared, wf_config: WalkForwardConfig, name: str, pair: str) -> pd.DataFrame:
    f, n, h = prepared.features, len(prepared.features), prepared.horizon
    index = pd.DatetimeIndex(f.index)
    first = first_origin(prepared, wf_config)
    if first >= n:
        raise ValueError(f"no candles from {wf_config.start} on")
    blocks = refit_blocks(index, first, n, wf_config.refit_every)
    wf_end = n - h  # the engine forecasts [first, wf_end); the tail [wf_end, n) is done here
    fc = np.full(n, np.nan)
    band = np.full((n, len(quantiles.QUANTILES)), np.nan)
    if wf_end - first >= 10:
        wf = run_walk_forward(prepared, wf_config, models=[name])
        rows = index.get_indexer(pd.DatetimeIndex(wf.predictions.index))
        fc[rows] = wf.predictions[name].to_numpy()
        for j, suffix in enumerate(quantiles.SUFFIXES):
            band[rows, j] = wf.predictions[name + suffix].to_numpy()
    _fill_tail(prepared, wf_config, name, blocks, max(first, wf_end), fc, band)
    return _rows(index, first, blocks, fc, band, name, pair)


def _fit_at(prepared: Prepared, wf_config: WalkForwardConfig, name: str, p: int) -> tuple[VolatilityModel, np.ndarray]:
    """The model the engine fits at refit point p: same training origins, nothing at or after p."""
    f, y, n, h = prepared.features, prepared.target, len(prepared.features), prepared.horizon
    span = wf_config.window
    window = None if span is None else bars(span.total_seconds() / 3600, prepared.bar_hours)
    mask = train_mask(n, p, h, bars(WARMUP_HOURS, prepared.bar_hours), window)
    if mask.sum() < 200:
        raise ValueError(f"only {int(mask.sum())} training origins at the refit of {f.index[p]}")
    model = make_model(name)
    model.fit(f.iloc[:p], y.iloc[:p], mask[:p], prepared.bar_hours)
    return model, mask


def _fill_tail(
    prepared: Prepared,
    wf_config: WalkForwardConfig,
    name: str,
    blocks: list[tuple[int, int]],
    tail_start: int,
    fc: np.ndarray,
    band: np.ndarray,
) -> None:
    """Forecast rows [tail_start, n) block by block, as the refit schedule would have, in place."""
    f, h = prepared.features, prepared.horizon
    realized = prepared.target.to_numpy(float)
    seed: np.ndarray | None = None
    for p, q in blocks:
        if q <= tail_start:
            continue
        lo = max(p, tail_start)
        model, mask = _fit_at(prepared, wf_config, name, p)
        block = np.zeros(q, dtype=bool)
        block[lo:q] = True
        fc[lo:q] = model.predict(f.iloc[:q], block).to_numpy()[lo:q]
        if p < lo and np.isfinite(band[p]).all() and fc[p] > 0:
            # the engine already calibrated this block: keep its shift for the rest of it
            band[lo:q] = fc[lo:q, None] * (band[p] / fc[p])[None, :]
            continue
        if seed is None:  # the engine's seed: training-tail errors of its first fit
            first_model, first_mask = (
                (model, mask) if p == blocks[0][0] else _fit_at(prepared, wf_config, name, blocks[0][0])
            )
            p0 = blocks[0][0]
            seed = tail_seeds(first_model.predict, f.iloc[:p0], realized[:p0], first_mask[:p0])[0]
        # errors of origins whose realized window closed before p (the tail's targets are unknown: NaN)
        band[lo:q] = quantiles.block_quantiles(realized, fc, blocks, h, seed)[lo:q]


def _rows(
    index: pd.DatetimeIndex,
    first: int,
    blocks: list[tuple[int, int]],
    fc: np.ndarray,
    band: np.ndarray,
    name: str,
    pair: str,
) -> pd.DataFrame:
    n = len(index)
    refit_at = np.zeros(n, dtype=int)
    for p, q in blocks:
        refit_at[p:q] = p
    sel = slice(first, n)
    rv = fc[sel]
    per_hour = rv / math.sqrt(24)
    points = refit_at[sel]
    out = pd.DataFrame(
        {
            "date": index[sel],
            "pair": pair,
            "predicted_rv_24h": rv,
            "q10": band[sel, 0],
            "q50": band[sel, 1],
            "q90": band[sel, 2],
            "predicted_volatility": per_hour,
            "volatility_regime": [vol_regime(v) if np.isfinite(v) else None for v in per_hour],
            "model_name": name,
            "model_version": [f"{name}@{index[p]:%Y-%m-%dT%H:%MZ}" for p in points],
            "fitted_until": index[np.maximum(points - 1, 0)],
        }
    )
    return out.reset_index(drop=True)[list(COLUMNS)]


def write_forecasts(table: pd.DataFrame, out: Path) -> None:
    """Write by suffix: .feather, .parquet or .csv (dates as UTC ISO text)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".feather":
        table.reset_index(drop=True).to_feather(out)
    elif out.suffix == ".parquet":
        table.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        table.to_csv(out, index=False, float_format="%.8g", date_format="%Y-%m-%dT%H:%M:%S%z")
    else:
        raise ValueError(f"--out must end in {', '.join(FORMATS)}, got {out.name!r}")


_FREQTRADE_FILE = re.compile(r"^(?P<base>[A-Z0-9]+)_(?P<quote>[A-Z0-9]+)-(?P<timeframe>\d+[mhdw])$")


def read_freqtrade_candles(path: Path) -> tuple[pd.DataFrame, str, str]:
    """A freqtrade spot candle file (user_data/data/<exchange>/BTC_USDT-1h.feather|parquet): frame, pair, timeframe."""
    match = _FREQTRADE_FILE.match(path.stem)
    if match is None:
        raise ValueError(f"{path.name}: expected freqtrade's spot file name, e.g. BTC_USDT-1h.feather")
    table = pd.read_feather(path) if path.suffix == ".feather" else pd.read_parquet(path)
    frame = table.assign(timestamp=pd.to_datetime(table["date"], utc=True)).set_index("timestamp")
    return canonical_frame(frame[OHLCV_COLUMNS]), f"{match['base']}/{match['quote']}", match["timeframe"]


def write_freqtrade_candles(frame: pd.DataFrame, out: Path) -> None:
    """Canonical candles in freqtrade's layout (`date` UTC + OHLCV), for `freqtrade backtesting`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    table = frame[OHLCV_COLUMNS].rename_axis("date").reset_index()
    if out.suffix == ".feather":
        table.to_feather(out)
    else:
        table.to_parquet(out, index=False)


def read_forecasts(path: Path) -> pd.DataFrame:
    """Read an export back with `date` and `fitted_until` as UTC timestamps."""
    if path.suffix == ".feather":
        table = pd.read_feather(path)
    elif path.suffix == ".parquet":
        table = pd.read_parquet(path)
    else:
        table = pd.read_csv(path)
    for col in ("date", "fitted_until"):
        table[col] = pd.to_datetime(table[col], utc=True)
    return table
