"""The four feature columns the stream's heuristic reads, computed with numpy for a whole batch at once.

`features.compute_features` builds ~30 columns with pandas: ~20 ms per call whatever the length, which
per symbol per batch was most of the stream's time. The heuristic needs four of them: `ret`,
`vol_per_hour`, `momentum` and `rsi14`. They are computed here with the same definitions (pandas'
`pct_change`, rolling std / mean with their `min_periods`, Wilder's RSI with `adjust=False`), and
`tests/streaming/test_heuristic_columns.py` checks them against `compute_features` on many windows, so
the two cannot drift apart.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from crypto_mlops.features.core import VOL_WINDOW

RSI_PERIOD = 14
SMA_FAST, SMA_FAST_MIN = 12, 4
SMA_SLOW, SMA_SLOW_MIN = 48, 12
VOL_MIN_PERIODS = 8

Columns = dict[str, np.ndarray]


def heuristic_columns(close: np.ndarray, bar_hours: float = 1.0) -> Columns:
    """`ret`, `vol_per_hour`, `momentum` and `rsi14` for every row of `close` (NaN where pandas has NaN)."""
    close = np.asarray(close, dtype=float)
    n = len(close)
    ret = np.full(n, np.nan)
    log_ret = np.full(n, np.nan)
    delta = np.full(n, np.nan)
    if n > 1:
        ret[1:] = close[1:] / close[:-1] - 1.0
        log_ret[1:] = np.diff(np.log(close))
        delta[1:] = np.diff(close)
    vol24 = _rolling(log_ret, VOL_WINDOW, VOL_MIN_PERIODS, std=True)
    sma_fast = _rolling_mean(close, SMA_FAST, SMA_FAST_MIN)
    sma_slow = _rolling_mean(close, SMA_SLOW, SMA_SLOW_MIN)
    with np.errstate(invalid="ignore"):
        momentum = (sma_fast > sma_slow).astype(float)
    return {
        "ret": ret,
        "vol_per_hour": vol24 / math.sqrt(bar_hours),
        "momentum": momentum,
        "rsi14": _rsi(delta),
    }


def _rolling_mean(values: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """Rolling mean of a series without gaps. Through cumulative sums: while both windows still start at
    the first row, the fast and the slow mean are the same sum, so their tie compares as pandas' does."""
    n = len(values)
    sums = np.concatenate([[0.0], np.cumsum(values)])
    ends = np.arange(1, n + 1)
    starts = np.maximum(0, ends - window)
    counts = ends - starts
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.asarray((sums[ends] - sums[starts]) / counts, dtype=float)
    out[counts < min_periods] = np.nan
    return out


def _rolling(values: np.ndarray, window: int, min_periods: int, std: bool = False) -> np.ndarray:
    """Rolling mean (or sample std) over the last `window` values, NaN below `min_periods` valid ones."""
    n = len(values)
    out = np.full(n, np.nan)
    if n == 0:
        return out
    padded = np.concatenate([np.full(window - 1, np.nan), values])
    windows = sliding_window_view(padded, window)
    counts = np.sum(~np.isnan(windows), axis=1)
    enough = counts >= max(min_periods, 2 if std else 1)
    if not enough.any():
        return out
    with np.errstate(invalid="ignore", divide="ignore"):
        picked = windows[enough]
        out[enough] = np.nanstd(picked, axis=1, ddof=1) if std else np.nanmean(picked, axis=1)
    return out


def _rsi(delta: np.ndarray, period: int = RSI_PERIOD) -> np.ndarray:
    """Wilder's RSI: exponential smoothing (alpha 1/period, adjust=False) of gains and losses."""
    n = len(delta)
    rsi = np.full(n, np.nan)
    alpha = 1.0 / period
    gain_avg = loss_avg = math.nan
    seen = 0
    for i in range(n):
        d = delta[i]
        if d != d:  # NaN: pandas' ewm keeps the previous average and does not count it
            continue
        gain, loss = (d, 0.0) if d > 0 else (0.0, -d)
        if seen == 0:
            gain_avg, loss_avg = gain, loss
        else:
            gain_avg = (1 - alpha) * gain_avg + alpha * gain
            loss_avg = (1 - alpha) * loss_avg + alpha * loss
        seen += 1
        if seen < period:
            continue
        rsi[i] = 100.0 if loss_avg == 0 else 100.0 - 100.0 / (1.0 + gain_avg / loss_avg)
    return rsi
