"""Forecast target and chronological splits (SPEC §5).

Origin t is the last closed candle. The target is the realized volatility of the next 24 hours,
RV24_t = sqrt(sum_{k=1..h} r_{t+k}^2) with r the bar log returns and h = 24 / bar_hours bars.
Features at t use candles <= t only; the target uses closes t..t+h, so it is never a feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HORIZON_HOURS = 24.0


def horizon_bars(bar_hours: float = 1.0, hours: float = HORIZON_HOURS) -> int:
    return max(1, round(hours / bar_hours))


def realized_vol_target(log_ret: pd.Series, horizon: int = 24) -> pd.Series:
    """RV over the next `horizon` returns, at each origin; NaN where the future is incomplete."""
    r2 = log_ret.astype(float) ** 2
    future_sum = r2.rolling(horizon, min_periods=horizon).sum().shift(-horizon)
    return np.sqrt(future_sum).rename("rv24_target")


@dataclass(frozen=True)
class Split:
    """Positions (0-based rows) of a chronological train/test split.

    Train origins are `[first, train_end)`, restricted to those whose target window ends inside the
    train part (purged: `train_end - horizon`), so no training target peeks into the test period.
    Test origins are `[train_end, n - horizon)`.
    """

    n: int
    train_end: int
    horizon: int

    @property
    def train_fit_end(self) -> int:
        return self.train_end - self.horizon

    @property
    def test_end(self) -> int:
        return self.n - self.horizon

    def train_mask(self) -> np.ndarray:
        m = np.zeros(self.n, dtype=bool)
        m[: max(self.train_fit_end, 0)] = True
        return m

    def test_mask(self) -> np.ndarray:
        m = np.zeros(self.n, dtype=bool)
        m[self.train_end : max(self.test_end, self.train_end)] = True
        return m


def chronological_split(n: int, train_frac: float = 0.7, horizon: int = 24) -> Split:
    if not 0.05 <= train_frac <= 0.95:
        raise ValueError(f"train_frac must be in [0.05, 0.95], got {train_frac}")
    train_end = round(n * train_frac)
    if train_end - horizon < 50 or n - horizon - train_end < 10:
        raise ValueError(f"too few rows ({n}) for a split at {train_frac} with a {horizon}-bar horizon")
    return Split(n=n, train_end=train_end, horizon=horizon)
