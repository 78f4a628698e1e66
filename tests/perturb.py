"""The look-ahead tests' shared move: shock every candle after a cut, keep the ones up to it."""

from __future__ import annotations

import numpy as np
import pandas as pd


def perturbed_after(frame: pd.DataFrame, cut: int, seed: int) -> pd.DataFrame:
    """`frame` with the prices (same factor across OHLC) and volumes of every row after `cut` changed."""
    rng = np.random.default_rng(seed)
    out = frame.copy()
    n = len(out) - cut - 1
    shock = np.exp(rng.normal(0, 0.05, n))
    for col in ("open", "high", "low", "close"):
        out.iloc[cut + 1 :, out.columns.get_loc(col)] *= shock
    out.iloc[cut + 1 :, out.columns.get_loc("volume")] *= rng.uniform(0.1, 10, n)
    return out
