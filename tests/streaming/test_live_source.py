"""`live` mode against a fake exchange: backfill, only newly closed candles, backoff while it is down."""

from __future__ import annotations

import threading
from typing import Any

import pandas as pd

from crypto_mlops.data.errors import DataUnavailable
from crypto_mlops.data.market import MarketData
from crypto_mlops.streaming.sources import live_ticks
from tests.streaming.helpers import candle_frame


class FakeExchange:
    """Serves the closed 1m candles of a prepared frame; `visible` grows as 'time passes'."""

    id = "fakex"

    def __init__(self, frame: pd.DataFrame, visible: int) -> None:
        self.frame = frame
        self.visible = visible
        self.down_calls = 0
        self.calls: list[dict[str, Any]] = []

    def fetch(self, symbol: str, timeframe: str, since: pd.Timestamp | None, limit: int, exchange: Any) -> MarketData:
        self.calls.append({"since": since, "limit": limit})
        if self.down_calls:
            self.down_calls -= 1
            raise DataUnavailable("exchange error (fetch_ohlcv): timed out")
        shown = self.frame.iloc[: self.visible]
        rows = shown[shown.index >= since] if since is not None else shown.iloc[-limit:]
        return MarketData(rows.iloc[:limit], symbol, timeframe, "fakex")


def test_live_backfills_then_emits_only_new_candles_and_backs_off() -> None:
    frame = candle_frame(1500, freq="1min")
    exchange = FakeExchange(frame, visible=1450)
    stop = threading.Event()
    waits: list[float] = []

    class RecordingStop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout or 0.0)
            return stop.is_set()

        def is_set(self) -> bool:
            return stop.is_set()

    ticks = live_ticks(["BTC/USDT"], exchange, "1m", poll_s=1.0, backfill=5, stop=RecordingStop(), fetch=exchange.fetch)
    first = [next(ticks) for _ in range(5)]
    # Backfill: the last 5 visible candles, each with a full 24 h (1440 candles) window behind it.
    assert [t.candle.open_time for t in first] == list(frame.index[1445:1450].to_pydatetime())
    assert exchange.calls[0] == {"since": None, "limit": 1439 + 5}
    assert all(t.source == "fakex" and t.timeframe == "1m" for t in first)
    # The exchange goes down twice, then two new candles close.
    exchange.down_calls = 2
    exchange.visible = 1452
    more = [next(ticks), next(ticks)]
    assert [t.candle.open_time for t in more] == list(frame.index[1450:1452].to_pydatetime())
    assert waits[1:3] == [1.0, 2.0]  # exponential backoff while unreachable
    assert more[-1].change_24h == round((frame["close"].iloc[1451] / frame["open"].iloc[1451 - 1439] - 1) * 100, 6)
    stop.set()
    assert list(ticks) == []
