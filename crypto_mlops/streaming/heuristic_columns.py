"""The four feature columns the stream's heuristic reads, for a batch's new rows at once, and the signal.

`features.compute_features` builds ~30 columns with pandas: ~20 ms per call whatever the length, which
per symbol per batch was most of the stream's time. The heuristic needs four of them: `ret`,
`vol_per_hour`, `momentum` and `rsi14`. They are computed here with `features.incremental`'s
definitions (pandas' `pct_change`, rolling std / mean with their `min_periods`, Wilder's RSI with
`adjust=False`), for the last rows only, and `tests/streaming/test_heuristic_columns.py` checks them
against `compute_features` on many windows, so the two cannot drift apart.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from crypto_mlops.features.core import VOL_WINDOW
from crypto_mlops.features.incremental import RollingTail, rsi
from crypto_mlops.signals.heuristic import CALM_BELOW, HIGH_FROM, MEDIUM_FROM, MIN_BARS, TURBULENT_FROM
from crypto_mlops.streaming.codec import Heuristic

SMA_FAST, SMA_FAST_MIN = 12, 4
SMA_SLOW, SMA_SLOW_MIN = 48, 12
VOL_MIN_PERIODS = 8

Columns = dict[str, np.ndarray]


def heuristic_columns(close: np.ndarray, bar_hours: float = 1.0, n: int | None = None) -> Columns:
    """`ret`, `vol_per_hour`, `momentum` and `rsi14` for the last `n` rows of `close` (default: every row;
    NaN where pandas has NaN)."""
    close = np.asarray(close, dtype=float)
    n = len(close) if n is None else min(n, len(close))
    if n == 0:
        return {name: np.empty(0) for name in ("ret", "vol_per_hour", "momentum", "rsi14")}
    tail = RollingTail(n)
    previous = np.concatenate([[np.nan], close[:-1]])
    delta = close - previous
    log_ret = np.log(close) - np.log(previous)
    vol24 = tail.std(log_ret, VOL_WINDOW, VOL_MIN_PERIODS)
    with np.errstate(invalid="ignore"):
        momentum = (tail.mean(close, SMA_FAST, SMA_FAST_MIN) > tail.mean(close, SMA_SLOW, SMA_SLOW_MIN)).astype(float)
    return {
        "ret": (close / previous - 1.0)[-n:],
        "vol_per_hour": vol24 / math.sqrt(bar_hours),
        "momentum": momentum,
        "rsi14": rsi(delta)[-n:],
    }


class HeuristicColumns:
    """The heuristic of SPEC §4 (signals.heuristic's formula and thresholds) read from numpy columns.

    `signals.heuristic_from_features` answers for the last row of a frame; slicing a DataFrame per tick
    costs milliseconds, so the consumer reads the same columns as arrays (a test checks both agree).
    """

    def __init__(self, features: pd.DataFrame | Columns, offset: int = 0) -> None:
        self.offset = offset  # frame position of the features' first row (they may cover a tail only)
        self.vol = np.asarray(features["vol_per_hour"], dtype=float)
        self.momentum = np.asarray(features["momentum"], dtype=float)
        self.ret = np.asarray(features["ret"], dtype=float)
        self.rsi = np.asarray(features["rsi14"], dtype=float)

    def signal(self, pos: int, n_bars: int) -> Heuristic:
        return self.signals([pos], [n_bars])[0]

    def signals(self, positions: list[int], n_bars: list[int]) -> list[Heuristic]:
        """The signal at each frame position: the formula on whole arrays, one struct per tick."""
        at = np.asarray(positions, dtype=np.int64) - self.offset
        vol = np.nan_to_num(self.vol[at], nan=0.0, posinf=0.0, neginf=0.0)
        momentum = np.nan_to_num(self.momentum[at], nan=0.0, posinf=0.0, neginf=0.0).astype(int)
        rets = np.nan_to_num(self.ret[at], nan=0.0, posinf=0.0, neginf=0.0)
        # signals.heuristic.risk_score on arrays (no NaN here: vol and momentum are cleaned above).
        scores = np.clip(0.6 * np.tanh(50 * vol) + 0.4 * (1 - momentum), 0.0, 1.0)
        levels = np.where(scores < MEDIUM_FROM, "low", np.where(scores < HIGH_FROM, "medium", "high")).tolist()
        regimes = np.where(vol < CALM_BELOW, "calm", np.where(vol < TURBULENT_FROM, "normal", "turbulent")).tolist()
        rsi14 = self.rsi[at]
        out = []
        for bars, v, m, score, level, regime, ret, r, finite in zip(
            n_bars,
            stable(vol).tolist(),
            momentum.tolist(),
            np.round(scores, 4).tolist(),
            levels,
            regimes,
            np.round(rets, 6).tolist(),
            stable(np.nan_to_num(rsi14)).tolist(),
            np.isfinite(rsi14).tolist(),
            strict=True,
        ):
            if bars < MIN_BARS:
                out.append(Heuristic(error=f"warming up: {bars}/{MIN_BARS} candles"))
                continue
            out.append(
                Heuristic(
                    risk_score=score,
                    risk_level=level,
                    vol_regime=regime,
                    vol=v,
                    nowcast_ret=ret,
                    momentum=m,
                    rsi14=r if finite else None,
                )
            )
        return out


def stable(values: np.ndarray) -> np.ndarray:
    """Each value rounded to 10 significant digits (what `float(f"{v:.10g}")` gives, ~35x faster):
    rounds away the last bits that differ with the window's start (rolling sums), so replays match.
    Rounding on arrays matters here: Python's `round` and string formatting cost ~1 µs per float,
    which was a quarter of a tick's processing (docs/stream-performance.md)."""
    values = np.asarray(values, dtype=float)
    magnitude = np.abs(values)
    with np.errstate(divide="ignore", invalid="ignore"):
        digits = np.floor(np.log10(np.where((magnitude > 0) & np.isfinite(magnitude), magnitude, 1.0)))
        scale = 10.0 ** (9 - digits)
        rounded = np.rint(values * scale) / scale
    return np.where(np.isfinite(rounded), rounded, values)  # inf/NaN (and denormal-small values) kept
