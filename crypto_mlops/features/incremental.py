"""The feature function's columns for the newest rows only, from the candles that precede them.

`compute_features` rebuilds every column over the whole frame with pandas: ~20-100 ms per call, whatever
the length. A stream that answers a few new candles per batch only needs their rows. `tail_features`
computes the same columns, with the same definitions (pandas' rolling windows and `min_periods`, its
`ewm(adjust=False)` recursions), for the last `n` rows of the candles it is given, in numpy.

Rolling columns of a row only read the last 720 candles, and the exponential recursions (RSI, ATR, EWMA
variance) forget 0.94^720 < 1e-19 of what lies further back, so with `LOOKBACK` candles before the new
ones the rows equal those `compute_features` gives over any longer frame ending at the same candles.
`tests/streaming/test_incremental_features.py` checks every column against `compute_features`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter

from crypto_mlops.features.core import RV_WINDOWS, VOL_WINDOW
from crypto_mlops.features.volatility import EWMA_LAMBDA, VOLATILITY_COLUMNS, bars, hour_of_week, weekend_shares

#: Candles before the new ones that make their rows equal to those of a longer frame.
LOOKBACK = 720
#: Windows up to this many rows are summed row by row (a running sum would lose digits to cancellation).
SHORT_WINDOW = 64
#: `compute_features`' columns, in its order (a test keeps the two lists in step).
FEATURE_COLUMNS = (
    "close",
    "ret",
    "log_ret",
    "vol24",
    "vol_per_hour",
    "sma12",
    "sma48",
    "momentum",
    "rsi14",
    "bb_mid",
    "bb_upper",
    "bb_lower",
    "bb_width",
    "atr14",
    "rv24",
    "rv168",
    "rv720",
    "parkinson24",
    "garman_klass24",
    "log_range",
    "rel_volume",
    *VOLATILITY_COLUMNS,
)


class RollingTail:
    """Rolling statistics of the windows ending at the last `n` rows of a series (pandas semantics)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def windows(self, x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
        """(values with NaN as 0, validity) of the `n` windows of width `w`, left-padded before the start."""
        need = self.n + w - 1
        part = x[-need:]
        pad = need - len(part)
        valid = ~np.isnan(part)
        values = np.where(valid, part, 0.0)
        if pad:
            values = np.concatenate([np.zeros(pad), values])
            valid = np.concatenate([np.zeros(pad, dtype=bool), valid])
        return sliding_window_view(values, w), sliding_window_view(valid, w)

    def _sums(self, x: np.ndarray, w: int, running: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(sum, count) of the valid values of each window. Short windows of small values (squared returns)
        are summed directly; others as differences of running sums over the tail: for long windows the
        rounding is then negligible, and means of windows that cover the same rows are the same number
        (SMA12 and SMA48 tie at the start, as in pandas)."""
        if w <= SHORT_WINDOW and not running:
            values, valid_windows = self.windows(x, w)
            return values.sum(axis=1), valid_windows.sum(axis=1)
        valid = ~np.isnan(x)
        sums = np.concatenate([[0.0], np.cumsum(np.where(valid, x, 0.0))])
        counts = np.concatenate([[0], np.cumsum(valid)])
        ends = np.arange(len(x) - self.n + 1, len(x) + 1)
        starts = np.maximum(ends - w, 0)
        return sums[ends] - sums[starts], counts[ends] - counts[starts]

    def sum(self, x: np.ndarray, w: int, min_periods: int) -> np.ndarray:
        out, counts = self._sums(x, w)
        out[counts < min_periods] = np.nan
        return out

    def count(self, x: np.ndarray, w: int, min_periods: int) -> np.ndarray:
        counts = self._sums(x, w)[1].astype(float)
        counts[counts < min_periods] = np.nan
        return counts

    def mean(self, x: np.ndarray, w: int, min_periods: int) -> np.ndarray:
        sums, counts = self._sums(x, w, running=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            out: np.ndarray = sums / counts
        out[counts < min_periods] = np.nan
        return out

    def std(self, x: np.ndarray, w: int, min_periods: int) -> np.ndarray:
        values, valid = self.windows(x, w)
        counts = valid.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = values.sum(axis=1) / counts
            dev = np.where(valid, values - mean[:, None], 0.0)
            out: np.ndarray = np.sqrt((dev**2).sum(axis=1) / (counts - 1))
        out[counts < max(min_periods, 2)] = np.nan
        return out

    def median(self, x: np.ndarray, w: int, min_periods: int) -> np.ndarray:
        need = self.n + w - 1
        part = x[-need:]
        padded = np.concatenate([np.full(need - len(part), np.nan), part])
        windows = sliding_window_view(padded, w)
        counts = (~np.isnan(windows)).sum(axis=1)
        if counts.min() == w:  # no gap: numpy's partition-based median
            full: np.ndarray = np.median(windows, axis=1)
            return full
        out = np.full(self.n, np.nan)
        ok = counts >= min_periods
        if ok.any():
            out[ok] = np.nanmedian(windows[ok], axis=1)
        return out


def ewm(x: np.ndarray, alpha: float, min_periods: int = 0) -> np.ndarray:
    """pandas' `ewm(alpha, adjust=False, min_periods).mean()` of a series whose NaNs all lead."""
    out = np.full(len(x), np.nan)
    valid = np.flatnonzero(~np.isnan(x))
    if len(valid) == 0:
        return out
    first = int(valid[0])
    out[first] = x[first]
    if len(x) > first + 1:
        out[first + 1 :], _ = lfilter([alpha], [1.0, alpha - 1.0], x[first + 1 :], zi=[(1.0 - alpha) * x[first]])
    out[: first + max(min_periods, 1) - 1] = np.nan
    return out


def rsi(delta: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's RSI of price changes (leading NaN only), as `compute_features` defines it."""
    with np.errstate(invalid="ignore"):
        gain = ewm(np.where(delta > 0, delta, np.where(np.isnan(delta), np.nan, 0.0)), 1 / period, period)
        loss = ewm(np.where(delta < 0, -delta, np.where(np.isnan(delta), np.nan, 0.0)), 1 / period, period)
    with np.errstate(invalid="ignore", divide="ignore"):
        rs = gain / np.where(loss == 0.0, np.nan, loss)
        rsi = 100 - 100 / (1 + rs)
    rsi = np.where(loss != 0, rsi, 100.0)
    return np.where(np.isnan(gain), np.nan, rsi)


def tail_features(times_ns: np.ndarray, ohlcv: np.ndarray, bar_hours: float, n: int) -> np.ndarray:
    """`FEATURE_COLUMNS` for the last `n` of these candles (rows: candles, columns: FEATURE_COLUMNS).

    `times_ns` are candle open times (int64 ns, UTC), `ohlcv` the candles' open, high, low, close and
    volume. The rows equal `compute_features` on these candles; pass `LOOKBACK` candles before the new
    ones (or all since the start) and they also equal the rows of any longer frame.
    """
    n = min(n, len(times_ns))
    ohlcv = np.asarray(ohlcv, dtype=float)
    open_, high, low, close, volume = (ohlcv[:, i] for i in range(5))
    tail = RollingTail(n)
    log_c = np.log(close)
    log_ret = np.concatenate([[np.nan], np.diff(log_c)])
    delta = np.concatenate([[np.nan], np.diff(close)])
    previous = np.concatenate([[np.nan], close[:-1]])
    r2 = log_ret**2
    out: dict[str, np.ndarray] = {"close": close[-n:]}
    out["ret"] = (close / previous - 1.0)[-n:]
    out["log_ret"] = log_ret[-n:]
    vol24 = tail.std(log_ret, VOL_WINDOW, 8)
    out["vol24"], out["vol_per_hour"] = vol24, vol24 / math.sqrt(bar_hours)
    sma12, sma48 = tail.mean(close, 12, 4), tail.mean(close, 48, 12)
    out["sma12"], out["sma48"] = sma12, sma48
    with np.errstate(invalid="ignore"):
        out["momentum"] = (sma12 > sma48).astype(float)
    out["rsi14"] = rsi(delta)[-n:]
    bb_mid, bb_std = tail.mean(close, 20, 20), tail.std(close, 20, 20)
    out["bb_mid"], out["bb_upper"], out["bb_lower"] = bb_mid, bb_mid + 2 * bb_std, bb_mid - 2 * bb_std
    out["bb_width"] = 4 * bb_std / bb_mid
    true_range = np.fmax(high - low, np.fmax(np.abs(high - previous), np.abs(low - previous)))
    out["atr14"] = ewm(true_range, 1 / 14, 14)[-n:]
    for window in RV_WINDOWS:
        out[f"rv{window}"] = np.sqrt(tail.sum(r2, window, max(2, window // 3)))
    log_hl = np.log(high / low)
    log_co = np.log(close / open_)
    parkinson = log_hl**2 / (4 * np.log(2))
    gk = np.maximum(0.5 * log_hl**2 - (2 * np.log(2) - 1) * log_co**2, 0.0)
    out["parkinson24"] = np.sqrt(tail.sum(parkinson, VOL_WINDOW, 8))
    out["garman_klass24"] = np.sqrt(tail.sum(gk, VOL_WINDOW, 8))
    out["log_range"] = log_hl[-n:]
    median_volume = tail.median(volume, 168, 24)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rel_volume"] = volume[-n:] / np.where(median_volume == 0.0, np.nan, median_volume)
    index = pd.DatetimeIndex(np.asarray(times_ns[-n:], dtype="datetime64[ns]"), tz="UTC")
    past, future = weekend_shares(index, bar_hours)
    out["hour_of_week"] = hour_of_week(index).astype(float)
    out["weekend_share_past24"], out["weekend_share_next24"] = past, future
    out["ewma_var"] = ewm(r2, 1.0 - EWMA_LAMBDA)[-n:]
    n6 = bars(6, bar_hours)
    out["rv6"] = np.sqrt(tail.sum(r2, n6, n6))
    with np.errstate(invalid="ignore"):
        pos = np.where(np.isnan(log_ret), np.nan, np.where(log_ret > 0, r2, 0.0))
        neg = np.where(np.isnan(log_ret), np.nan, np.where(log_ret < 0, r2, 0.0))
    out["rs_pos24"] = np.sqrt(tail.sum(pos, 24, 8))
    out["rs_neg24"] = np.sqrt(tail.sum(neg, 24, 8))
    out["rq24"] = tail.count(log_ret, 24, 8) / 3.0 * tail.sum(r2**2, 24, 8)
    return np.column_stack([out[c] for c in FEATURE_COLUMNS])
