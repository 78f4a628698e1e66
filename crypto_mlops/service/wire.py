"""Plain values for the wire: finite floats, JSON-safe dicts and candle rows from pandas/numpy objects."""

from __future__ import annotations

import math
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from crypto_mlops.service.results import OHLCVBar, iso_z

JSONValue: TypeAlias = bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"] | None


def num(value: Any) -> float:
    """Float for the wire; NaN/inf (too few candles for a window) become 0 like the seed."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def plain(value: Any) -> JSONValue:
    """JSON types only: frames become records, timestamps ISO strings, non-finite numbers null."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return plain(value.reset_index().to_dict(orient="records"))
    if isinstance(value, pd.Timestamp):
        return iso_z(value)
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


def ohlcv_bars(frame: pd.DataFrame) -> list[OHLCVBar]:
    index = pd.DatetimeIndex(frame.index).as_unit("ms")  # the index may be s/ms/ns resolution
    times = index.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        OHLCVBar(ts=int(ms), open=o, high=h, low=lo, close=c, volume=v, time=t)
        for ms, t, o, h, lo, c, v in zip(
            index.asi8,
            times,
            frame["open"],
            frame["high"],
            frame["low"],
            frame["close"],
            frame["volume"],
            strict=True,
        )
    ]
