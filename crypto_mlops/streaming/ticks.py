"""Turn closed candles into `crypto-prices` ticks with true 24-hour statistics.

Every mode (live 1m candles, synthetic, CSV replay) goes through `ticks_from_candles`, so a tick's
`change_24h`, `high_24h`, `low_24h`, `volume_24h` and `volatility` always describe the 24 hours that end
at the tick's event time (the candle's close), whatever the candle length. Ticks are only emitted once a
full 24-hour window exists: a partial window would not be a 24-hour change.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from crypto_mlops.streaming.schemas import Candle, PriceTick, Trend

TREND_BAND_PCT = 1.0  # |24 h change| below this is "stable"


def bars_per_day(bar_hours: float) -> int:
    if bar_hours <= 0:
        raise ValueError("bar_hours must be positive")
    return max(1, round(24.0 / bar_hours))


def trend_of(change_24h_pct: float) -> Trend:
    if change_24h_pct > TREND_BAND_PCT:
        return "up"
    if change_24h_pct < -TREND_BAND_PCT:
        return "down"
    return "stable"


def rolling_24h_stats(frame: pd.DataFrame, bar_hours: float) -> pd.DataFrame:
    """Per candle: the statistics of the 24 h that end at its close (NaN until 24 h of history exist).

    Windows are in time, not in candle counts, so a gap in the data (missing candles in the CSV) does not
    stretch "24 h" over more than a day: the window holds the candles that opened in (t - 24 h, t].
    """
    day = pd.Timedelta(hours=24)
    bar = pd.Timedelta(hours=bar_hours)
    index = pd.DatetimeIndex(frame.index)
    close = frame["close"].astype(float)
    stats = pd.DataFrame(index=frame.index)
    stats["high_24h"] = frame["high"].astype(float).rolling(day).max()
    stats["low_24h"] = frame["low"].astype(float).rolling(day).min()
    stats["volume_24h"] = frame["volume"].astype(float).rolling(day).sum()
    # Price 24 h ago = the open of the first candle of the window (the exchanges' 24 h ticker convention).
    first = index.searchsorted(index - day + bar, side="left")
    open_24h_ago = frame["open"].to_numpy(float)[first]
    stats["change_24h"] = (close.to_numpy() / open_24h_ago - 1.0) * 100.0
    log_ret = pd.Series(np.log(close.to_numpy()), index=frame.index).diff()
    stats["volatility"] = log_ret.rolling(day, min_periods=2).std(ddof=1) / math.sqrt(bar_hours)
    complete = np.asarray(index - index[0] >= day - bar) if len(index) else np.zeros(0, bool)
    stats.loc[~complete, :] = np.nan
    return stats


def ticks_from_candles(
    frame: pd.DataFrame,
    *,
    symbol: str,
    source: str,
    timeframe: str,
    bar_hours: float,
    emit_from: int | None = None,
) -> Iterator[PriceTick]:
    """Yield one tick per closed candle from `emit_from` (default: the first with a full 24 h window)."""
    n = bars_per_day(bar_hours)
    stats = rolling_24h_stats(frame, bar_hours)
    start = n - 1 if emit_from is None else max(emit_from, n - 1)
    bar = timedelta(hours=bar_hours)
    cols = frame[["open", "high", "low", "close", "volume"]].to_numpy(dtype=float)
    st = stats[["high_24h", "low_24h", "volume_24h", "change_24h", "volatility"]].to_numpy(dtype=float)
    index = frame.index
    for i in range(start, len(frame)):
        high_24h, low_24h, volume_24h, change_24h, vol = st[i]
        if not (np.isfinite(high_24h) and np.isfinite(change_24h)):
            continue
        o, h, lo, c, v = cols[i]
        open_time = pd.Timestamp(index[i]).to_pydatetime()
        if open_time.tzinfo is None:
            open_time = open_time.replace(tzinfo=UTC)
        yield PriceTick(
            symbol=symbol,
            price=c,
            volume_24h=volume_24h,
            change_24h=round(float(change_24h), 6),
            high_24h=high_24h,
            low_24h=low_24h,
            timestamp=open_time + bar,
            source=source,
            volatility=float(vol) if np.isfinite(vol) else None,
            trend=trend_of(float(change_24h)),
            timeframe=timeframe,
            candle=Candle(open_time=open_time, open=o, high=h, low=lo, close=c, volume=v),
        )


def stamp(tick: PriceTick, when: datetime | None = None) -> PriceTick:
    """Copy of the tick with `produced_at` set (wall clock at send time)."""
    return tick.model_copy(update={"produced_at": when or datetime.now(UTC)})
