"""THE feature function: one vectorised, causal transformation used by training and serving alike.

Every column at row t uses candles up to and including t (no look-ahead): rolling windows look
back, nothing is shifted forward. Volatility columns are per bar; `vol_per_hour` rescales the
24-bar std to hourly units so thresholds work for any timeframe.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crypto_mlops.features.volatility import volatility_features

VOL_WINDOW = 24
RV_WINDOWS = (24, 168, 720)  # one day, one week, one month of hourly bars


def _rsi(close: pd.Series, period: int = 14) -> pd.Series:
    """Wilder's RSI (exponential smoothing with alpha = 1/period)."""
    delta = close.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / period, adjust=False, min_periods=period).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / period, adjust=False, min_periods=period).mean()
    rs = gain / loss.replace(0.0, np.nan)
    rsi = 100 - 100 / (1 + rs)
    return rsi.where(loss != 0, 100.0).where(gain.notna())


def compute_features(frame: pd.DataFrame, bar_hours: float = 1.0) -> pd.DataFrame:
    """Return the canonical feature frame (same index as `frame`)."""
    close, high, low, open_ = frame["close"], frame["high"], frame["low"], frame["open"]
    volume = frame["volume"]
    out = pd.DataFrame(index=frame.index)
    out["close"] = close
    out["ret"] = close.pct_change()
    out["log_ret"] = np.log(close).diff()
    out["vol24"] = out["log_ret"].rolling(VOL_WINDOW, min_periods=8).std()
    out["vol_per_hour"] = out["vol24"] / np.sqrt(bar_hours)
    out["sma12"] = close.rolling(12, min_periods=4).mean()
    out["sma48"] = close.rolling(48, min_periods=12).mean()
    out["momentum"] = (out["sma12"] > out["sma48"]).astype(float)
    out["rsi14"] = _rsi(close)
    out["bb_mid"] = close.rolling(20, min_periods=20).mean()
    bb_std = close.rolling(20, min_periods=20).std()
    out["bb_upper"] = out["bb_mid"] + 2 * bb_std
    out["bb_lower"] = out["bb_mid"] - 2 * bb_std
    out["bb_width"] = (out["bb_upper"] - out["bb_lower"]) / out["bb_mid"]
    previous_close = close.shift(1)
    true_range = pd.concat([high - low, (high - previous_close).abs(), (low - previous_close).abs()], axis=1).max(
        axis=1
    )
    out["atr14"] = true_range.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()

    squared = out["log_ret"] ** 2
    for window in RV_WINDOWS:
        # Realized volatility over the window, in "per window" units: sqrt(sum r^2).
        out[f"rv{window}"] = np.sqrt(squared.rolling(window, min_periods=max(2, window // 3)).sum())
    log_hl = np.log(high / low)
    log_co = np.log(close / open_)
    parkinson_var = log_hl**2 / (4 * np.log(2))
    gk_var = 0.5 * log_hl**2 - (2 * np.log(2) - 1) * log_co**2
    # Range estimators summed over 24 bars, so they are comparable with rv24.
    out["parkinson24"] = np.sqrt(parkinson_var.rolling(VOL_WINDOW, min_periods=8).sum())
    out["garman_klass24"] = np.sqrt(gk_var.clip(lower=0).rolling(VOL_WINDOW, min_periods=8).sum())
    out["log_range"] = log_hl
    median_volume = volume.rolling(168, min_periods=24).median()
    out["rel_volume"] = volume / median_volume.replace(0.0, np.nan)
    # Volatility-model columns (calendar, EWMA variance, 6 h RV): see features/volatility.py.
    return out.join(volatility_features(frame, bar_hours))
