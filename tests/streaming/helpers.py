"""Small builders shared by the streaming tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from crypto_mlops.streaming.schemas import Candle, PriceTick


def candle_frame(n: int, start: str = "2024-01-01", freq: str = "1h", seed: int = 0) -> pd.DataFrame:
    """A random-walk OHLCV frame (canonical layout)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    high = np.maximum(open_, close) * 1.002
    low = np.minimum(open_, close) * 0.998
    volume = rng.uniform(1, 10, n)
    index = pd.date_range(start, periods=n, freq=freq, tz="UTC", name="timestamp")
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)


def tick(
    symbol: str = "BTC/USDT",
    hour: int = 0,
    price: float = 100.0,
    change_24h: float = 0.0,
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC),
) -> PriceTick:
    """A hand-made hourly tick whose candle opens `hour` hours after `start`."""
    open_time = start + timedelta(hours=hour)
    return PriceTick(
        symbol=symbol,
        price=price,
        volume_24h=10.0,
        change_24h=change_24h,
        high_24h=price * 1.01,
        low_24h=price * 0.99,
        timestamp=open_time + timedelta(hours=1),
        source="synthetic",
        volatility=0.01,
        trend="stable",
        timeframe="1h",
        candle=Candle(open_time=open_time, open=price, high=price * 1.001, low=price * 0.999, close=price, volume=1.0),
    )
