"""Candles as the models accept them: canonical, on the regular grid, long enough; else InvalidInput."""

from __future__ import annotations

import pandas as pd

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.quality import regularize
from crypto_mlops.data.schema import OHLCV_COLUMNS, SUPPORTED_TIMEFRAMES, canonical_frame, timeframe_hours

# Minimum candles: the 30-day HAR component needs 240 bars (a third of its window) to exist.
MIN_BARS = 240


def timeframe_for(bar_hours: float) -> str:
    for tf in SUPPORTED_TIMEFRAMES:
        if abs(timeframe_hours(tf) - bar_hours) < 1e-9:
            return tf
    raise InvalidInput(f"unsupported bar length {bar_hours} h")


def clean_frame(frame: pd.DataFrame, bar_hours: float, min_bars: int = MIN_BARS) -> pd.DataFrame:
    """Canonical, regular-grid frame or InvalidInput with a clear reason."""
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise InvalidInput("no candles given")
    if "timestamp" in frame.columns:
        try:
            stamps = pd.to_datetime(frame["timestamp"], utc=True)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"unreadable timestamps: {exc}") from None
        frame = frame.drop(columns="timestamp").set_index(pd.DatetimeIndex(stamps, name="timestamp"))
    missing = [c for c in OHLCV_COLUMNS if c not in frame.columns]
    if missing:
        raise InvalidInput(f"candles lack columns {missing}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise InvalidInput("candles need a DatetimeIndex or a 'timestamp' column")
    try:
        canonical = canonical_frame(frame)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"candles are not numeric: {exc}") from exc
    if canonical[["open", "high", "low", "close"]].isna().any(axis=None) or (canonical["close"] <= 0).any():
        raise InvalidInput("candles contain missing or non-positive prices")
    regular, _ = regularize(canonical, timeframe_for(bar_hours))
    if len(regular) < min_bars:
        raise InvalidInput(f"need at least {min_bars} candles for a volatility forecast, got {len(regular)}")
    return regular


def row_stamps(frame: pd.DataFrame) -> pd.DatetimeIndex:
    """The candle time (UTC) of every row of the caller's frame, in its row order, before gap filling."""
    if "timestamp" in frame.columns:
        stamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"], utc=True))
    else:
        stamps = pd.DatetimeIndex(frame.index)
    return stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")


def last_stamps(frame: pd.DataFrame, n: int) -> pd.DatetimeIndex:
    """The newest `n` distinct candle times of the caller's frame (UTC), before any gap filling."""
    return row_stamps(frame).unique().sort_values()[-n:]
