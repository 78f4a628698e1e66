"""Volatility-model feature columns, added to the shared feature frame by `compute_features`.

Every column is causal: row t uses candles <= t only, except the calendar column
`weekend_share_next24`, which depends on timestamps alone (the calendar is known in advance).
Windows are given in hours and converted to bars, so the same code serves 1h and other timeframes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EWMA_LAMBDA = 0.94
VOLATILITY_COLUMNS = [
    "hour_of_week",
    "weekend_share_past24",
    "weekend_share_next24",
    "ewma_var",
    "rv6",
    "rs_pos24",
    "rs_neg24",
    "rq24",
]


def bars(hours: float, bar_hours: float) -> int:
    """Number of bars covering `hours` (at least one)."""
    return max(1, round(hours / bar_hours))


def hour_of_week(index: pd.DatetimeIndex) -> np.ndarray:
    """0 = Monday 00:00 UTC ... 167 = Sunday 23:00 UTC."""
    return np.asarray(index.day_of_week * 24 + index.hour, dtype=np.int64)


def weekend_shares(index: pd.DatetimeIndex, bar_hours: float, hours: float = 24.0) -> tuple[np.ndarray, np.ndarray]:
    """Share of weekend (Sat/Sun UTC) hours in the last `hours` (candles t-n+1..t) and the next (t+1..t+n).

    Computed from the calendar, not from neighbouring rows, so gaps in the index do not matter.
    """
    n = bars(hours, bar_hours)
    step = pd.Timedelta(hours=bar_hours)
    ts = index.to_numpy(dtype="datetime64[ns]")
    offsets = np.arange(n) * np.timedelta64(int(step.value), "ns")
    past = ts[:, None] - offsets[None, :]
    future = ts[:, None] + offsets[None, :] + np.timedelta64(int(step.value), "ns")

    # numpy datetime64: day 0 (1970-01-01) was a Thursday -> weekday = (days + 3) % 7, Mon = 0.
    def _weekend(a: np.ndarray) -> np.ndarray:
        days = a.astype("datetime64[D]").astype(np.int64)
        return (((days + 3) % 7) >= 5).mean(axis=1)

    return _weekend(past), _weekend(future)


def volatility_features(frame: pd.DataFrame, bar_hours: float = 1.0) -> pd.DataFrame:
    """Extra columns for the volatility models (see `VOLATILITY_COLUMNS`), indexed like `frame`."""
    close = frame["close"].astype(float)
    log_ret = np.log(close).diff()
    r2 = log_ret**2
    index = pd.DatetimeIndex(frame.index)
    past, future = weekend_shares(index, bar_hours)
    n6 = bars(6, bar_hours)
    out = pd.DataFrame(index=frame.index)
    out["hour_of_week"] = hour_of_week(index)
    out["weekend_share_past24"] = past
    out["weekend_share_next24"] = future
    # RiskMetrics recursion per bar: var_t = lambda var_{t-1} + (1 - lambda) r_t^2, started at r_1^2.
    out["ewma_var"] = r2.ewm(alpha=1.0 - EWMA_LAMBDA, adjust=False).mean()
    out["rv6"] = np.sqrt(r2.rolling(n6, min_periods=n6).sum())
    # Same window as rv24 (24 bars, whatever the bar length), so rs_pos24² + rs_neg24² = rv24².
    out = out.join(realized_measures(log_ret, 24))
    return out


def realized_measures(log_ret: pd.Series, n: int) -> pd.DataFrame:
    """Semivariances and quarticity of the last `n` bar returns (same window rules as `rv24`).

    rs_pos/rs_neg: sqrt of the sum of squared positive/negative returns (Barndorff-Nielsen, Kinnebrock
    & Shephard), so rs_pos² + rs_neg² = rv24². rq24: realized quarticity (m/3) Σ r⁴ with m the returns
    in the window (Bollerslev, Patton & Quaedvlieg 2016), in squared-variance units.
    """
    r2 = log_ret**2
    min_periods = min(n, max(2, n // 3))
    pos = r2.where(log_ret > 0, 0.0).where(log_ret.notna())
    neg = r2.where(log_ret < 0, 0.0).where(log_ret.notna())
    count = log_ret.rolling(n, min_periods=min_periods).count()
    return pd.DataFrame(
        {
            "rs_pos24": np.sqrt(pos.rolling(n, min_periods=min_periods).sum()),
            "rs_neg24": np.sqrt(neg.rolling(n, min_periods=min_periods).sum()),
            "rq24": count / 3.0 * (r2**2).rolling(n, min_periods=min_periods).sum(),
        },
        index=log_ret.index,
    )
