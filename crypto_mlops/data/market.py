"""`MarketData`: a canonical candle frame plus where it came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

from crypto_mlops.data.schema import timeframe_hours

if TYPE_CHECKING:
    from crypto_mlops.data.quality import QualityReport


@dataclass
class MarketData:
    frame: pd.DataFrame
    symbol: str
    timeframe: str
    source: str  # exchange id (e.g. "binance"), "csv" or "synthetic"
    quality: QualityReport | None = None
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def bar_hours(self) -> float:
        return timeframe_hours(self.timeframe)

    @property
    def last_timestamp(self) -> pd.Timestamp:
        return pd.Timestamp(self.frame.index[-1])

    def tail(self, n: int) -> MarketData:
        return MarketData(self.frame.iloc[-n:], self.symbol, self.timeframe, self.source, self.quality, dict(self.meta))
