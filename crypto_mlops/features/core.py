"""THE feature function: one vectorised, causal transformation used by training and serving alike.

Every column at row t uses candles up to and including t (no look-ahead): rolling windows look
back, nothing is shifted forward. Volatility columns are per bar; `vol_per_hour` rescales the
24-bar std to hourly units so thresholds work for any timeframe.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from crypto_mlops.features.volatility import VOLATILITY_COLUMNS, volatility_features

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
    """Return the canonical feature frame (same index as `frame`).

    Columns are gathered in a dict and the frame is built once: inserting ~25 columns one by
    one costs more than computing them on short serving windows.
    """
    close, high, low, open_ = frame["close"], frame["high"], frame["low"], frame["open"]
    volume = frame["volume"]
    cols: dict[str, pd.Series] = {"close": close}
    cols["ret"] = close.pct_change()
    log_ret = np.log(close).diff()
    cols["log_ret"] = log_ret
    vol24 = log_ret.rolling(VOL_WINDOW, min_periods=8).std()
    cols["vol24"] = vol24
    cols["vol_per_hour"] = vol24 / np.sqrt(bar_hours)
    sma12 = close.rolling(12, min_periods=4).mean()
    sma48 = close.rolling(48, min_periods=12).mean()
    cols["sma12"], cols["sma48"] = sma12, sma48
    cols["momentum"] = (sma12 > sma48).astype(float)
    cols["rsi14"] = _rsi(close)
    bb_mid = close.rolling(20, min_periods=20).mean()
    bb_std = close.rolling(20, min_periods=20).std()
    cols["bb_mid"] = bb_mid
    cols["bb_upper"] = bb_mid + 2 * bb_std
    cols["bb_lower"] = bb_mid - 2 * bb_std
    cols["bb_width"] = 4 * bb_std / bb_mid
    previous_close = close.shift(1)
    true_range = np.fmax(high - low, np.fmax((high - previous_close).abs(), (low - previous_close).abs()))
    cols["atr14"] = true_range.ewm(alpha=1 / 14, adjust=False, min_periods=14).mean()

    squared = log_ret**2
    for window in RV_WINDOWS:
        # Realized volatility over the window, in "per window" units: sqrt(sum r^2).
        cols[f"rv{window}"] = np.sqrt(squared.rolling(window, min_periods=max(2, window // 3)).sum())
    log_hl = np.log(high / low)
    log_co = np.log(close / open_)
    parkinson_var = log_hl**2 / (4 * np.log(2))
    gk_var = 0.5 * log_hl**2 - (2 * np.log(2) - 1) * log_co**2
    # Range estimators summed over 24 bars, so they are comparable with rv24.
    cols["parkinson24"] = np.sqrt(parkinson_var.rolling(VOL_WINDOW, min_periods=8).sum())
    cols["garman_klass24"] = np.sqrt(gk_var.clip(lower=0).rolling(VOL_WINDOW, min_periods=8).sum())
    cols["log_range"] = log_hl
    median_volume = volume.rolling(168, min_periods=24).median()
    cols["rel_volume"] = volume / median_volume.replace(0.0, np.nan)
    out = pd.DataFrame(cols, index=frame.index)
    # Volatility-model columns (calendar, EWMA variance, 6 h RV): see features/volatility.py.
    return out.join(volatility_features(frame, bar_hours))


def model_features(frame: pd.DataFrame, bar_hours: float = 1.0) -> pd.DataFrame:
    """The feature frame every volatility model reads, in training and in serving alike.

    The same `compute_features`, plus a guard: the models need the volatility columns, so a frame
    without them (someone unhooked `volatility_features`) fails loudly here, not as NaN forecasts.
    """
    features = compute_features(frame, bar_hours)
    missing = [c for c in VOLATILITY_COLUMNS if c not in features.columns]
    if missing:
        raise RuntimeError(f"compute_features lacks the volatility columns {missing}")
    return features
