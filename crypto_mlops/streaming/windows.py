"""Per-symbol candle windows as numpy arrays (candle open times in ns, OHLCV), and their model features.

A window holds the last `size` candles of one symbol and timeframe. When the model is in use it also
holds the rows of the feature function for those candles (`features`), so that a batch only computes
the rows of its new candles (`features.incremental.tail_features`) instead of the whole window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

OHLCV = ["open", "high", "low", "close", "volume"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass
class Rows:
    """Candles in arrival order: open times (int64 ns, UTC) and an (n, 5) OHLCV block."""

    times: np.ndarray
    ohlcv: np.ndarray

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def empty(cls) -> Rows:
        return cls(np.empty(0, dtype=np.int64), np.empty((0, 5)))

    def then(self, other: Rows) -> Rows:
        return Rows(np.concatenate([self.times, other.times]), np.concatenate([self.ohlcv, other.ohlcv]))

    def tail(self, n: int) -> Rows:
        return Rows(self.times[-n:], self.ohlcv[-n:]) if n < len(self) else self

    def increasing_from(self, start: int) -> bool:
        """Candle times strictly increasing from `start` on (no duplicate, no step back)."""
        return bool(np.all(np.diff(self.times[start:]) > 0))

    def regular_from(self, start: int, bar_ns: int) -> bool:
        """Consecutive candles of one bar each from `start` on (what the model gets without gap filling)."""
        return bool(np.all(np.diff(self.times[start:]) == bar_ns))

    def index(self, start: int = 0) -> pd.DatetimeIndex:
        stamps = pd.DatetimeIndex(self.times[start:].view("datetime64[ns]"), name="timestamp")
        return stamps.tz_localize(UTC)

    def frame(self) -> pd.DataFrame:
        """The canonical frame; candles whose times disagree with arrival order keep the last per time."""
        frame = pd.DataFrame(self.ohlcv, index=self.index(), columns=OHLCV, dtype=float)
        if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
            frame = frame[~frame.index.duplicated(keep="last")].sort_index()
        return frame


def epoch_ns(ts: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (exact to the microsecond)."""
    if ts.microsecond == 0:  # whole seconds: the float timestamp is exact
        return int(ts.timestamp()) * 1_000_000_000
    return (ts - _EPOCH) // _MICROSECOND * 1000


@dataclass
class Window:
    timeframe: str
    bar_hours: float
    size: int
    rows: Rows = field(default_factory=Rows.empty)
    last_event: datetime | None = None
    #: Feature rows of `rows` (same length), or None when they must be rebuilt (see processor).
    features: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def bar_ns(self) -> int:
        return round(self.bar_hours * 3600 * 1e9)

    def keep(self, rows: Rows, features: np.ndarray | None) -> None:
        """The window's candles are now the last `size` of `rows` (and their feature rows, if known)."""
        self.rows = rows.tail(self.size)
        self.features = None if features is None else features[-len(self.rows) :]
