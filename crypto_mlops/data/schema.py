"""The canonical OHLCV frame, symbols and timeframes.

Canonical frame: index `timestamp` (UTC DatetimeIndex, candle *open* time, sorted, unique) and
float columns open, high, low, close, volume. Everything downstream assumes this shape.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from crypto_mlops.data.errors import InvalidInput

OHLCV_COLUMNS = ["open", "high", "low", "close", "volume"]

# Quote currencies we recognise when a symbol comes without a separator (longest first).
KNOWN_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "DAI", "EUR", "USD", "TRY", "BTC", "ETH", "BNB")

_SYMBOL_RE = re.compile(r"^[A-Z0-9]{2,15}/[A-Z0-9]{2,10}$")
_TIMEFRAME_RE = re.compile(r"^(\d+)([mhdw])$")
_UNIT_HOURS = {"m": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}
SUPPORTED_TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w")


def normalize_symbol(symbol: str) -> str:
    """'btcusdt', 'BTC-USDT', 'btc/usdt' -> 'BTC/USDT'. Raises InvalidInput for anything else."""
    raw = (symbol or "").strip().upper().replace(" ", "")
    raw = raw.replace("-", "/").replace("_", "/")
    if "/" not in raw:
        for quote in KNOWN_QUOTES:
            if raw.endswith(quote) and len(raw) > len(quote) + 1:
                raw = f"{raw[: -len(quote)]}/{quote}"
                break
    if not _SYMBOL_RE.match(raw):
        raise InvalidInput(
            f"invalid symbol {symbol!r}: expected BASE/QUOTE such as BTC/USDT (or BTCUSDT with a known quote "
            f"{', '.join(KNOWN_QUOTES)})"
        )
    return raw


def symbol_slug(symbol: str) -> str:
    """'BTC/USDT' -> 'BTCUSDT' (for file names and keys)."""
    return normalize_symbol(symbol).replace("/", "")


def timeframe_hours(timeframe: str) -> float:
    """Bar length in hours: '1h' -> 1.0, '15m' -> 0.25, '1d' -> 24.0."""
    match = _TIMEFRAME_RE.match((timeframe or "").strip())
    if not match or timeframe not in SUPPORTED_TIMEFRAMES:
        raise InvalidInput(f"invalid timeframe {timeframe!r}: expected one of {', '.join(SUPPORTED_TIMEFRAMES)}")
    return int(match.group(1)) * _UNIT_HOURS[match.group(2)]


def timeframe_delta(timeframe: str) -> pd.Timedelta:
    return pd.Timedelta(hours=timeframe_hours(timeframe))


def canonical_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Coerce to the canonical shape: UTC index named timestamp, float OHLCV columns, sorted, unique."""
    out = frame[OHLCV_COLUMNS].astype(float).copy()
    index = pd.DatetimeIndex(out.index)
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    out.index = index.rename("timestamp")
    out = out[~out.index.duplicated(keep="last")].sort_index()
    return out


def epoch_to_datetime(values: pd.Series) -> pd.DatetimeIndex:
    """Epoch numbers in seconds, milliseconds or microseconds (mixed is fine) -> UTC timestamps."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if np.isnan(numbers).any():
        raise InvalidInput("timestamp column has non-numeric values")
    # Seconds are ~1e9 today, milliseconds ~1e12, microseconds ~1e15: scale each value by its magnitude.
    scale = np.where(numbers >= 1e14, 1e-6, np.where(numbers >= 1e11, 1e-3, 1.0))
    seconds = np.round(numbers * scale, 3)
    return pd.DatetimeIndex(pd.to_datetime(seconds, unit="s", utc=True))
