"""24 h statistics of ticks: every mode shares them, so they are checked against plain arithmetic."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.streaming.sources import replay_ticks, simulate_ticks
from crypto_mlops.streaming.ticks import bars_per_day, ticks_from_candles, trend_of
from tests.streaming.helpers import candle_frame


def test_hourly_ticks_carry_the_true_24h_window() -> None:
    frame = candle_frame(60)
    ticks = list(ticks_from_candles(frame, symbol="BTC/USDT", source="synthetic", timeframe="1h", bar_hours=1.0))
    # Only candles with a full 24 h window produce ticks.
    assert len(ticks) == 60 - 23
    i = 40  # the tick of candle 40 covers candles 17..40
    t = ticks[i - 23]
    window = frame.iloc[17:41]
    assert t.price == pytest.approx(frame["close"].iloc[40])
    assert t.high_24h == pytest.approx(window["high"].max())
    assert t.low_24h == pytest.approx(window["low"].min())
    assert t.volume_24h == pytest.approx(window["volume"].sum())
    assert t.change_24h == pytest.approx((frame["close"].iloc[40] / frame["open"].iloc[17] - 1) * 100, abs=1e-6)
    log_ret = np.diff(np.log(frame["close"].to_numpy()))[16:40]  # the 24 returns ending at candle 40
    assert t.volatility == pytest.approx(np.std(log_ret, ddof=1))
    # Event time is the candle close; the candle is carried along.
    assert t.timestamp == frame.index[40].to_pydatetime() + (frame.index[1] - frame.index[0])
    assert t.candle is not None and t.candle.close == t.price
    assert t.trend == trend_of(t.change_24h)


def test_minute_candles_use_1440_bars_and_hourly_volatility_units() -> None:
    assert bars_per_day(1 / 60) == 1440
    frame = candle_frame(1500, freq="1min")
    ticks = list(ticks_from_candles(frame, symbol="ETH/USDT", source="binance", timeframe="1m", bar_hours=1 / 60))
    assert len(ticks) == 1500 - 1439
    last = ticks[-1]
    log_ret = np.diff(np.log(frame["close"].to_numpy()))[-1440:]
    assert last.volatility == pytest.approx(np.std(log_ret, ddof=1) * math.sqrt(60))
    assert last.change_24h == pytest.approx((frame["close"].iloc[-1] / frame["open"].iloc[-1440] - 1) * 100, abs=1e-6)


def test_trend_band() -> None:
    assert trend_of(2.0) == "up"
    assert trend_of(-2.0) == "down"
    assert trend_of(0.5) == "stable"


def test_simulated_ticks_are_continuous_across_chunks_and_ordered() -> None:
    ticks = list(simulate_ticks(["BTC/USDT", "ETH/USDT"], max_bars=130, chunk_bars=50))
    assert len(ticks) == 260
    times = [t.timestamp for t in ticks]
    assert times == sorted(times)
    btc = [t for t in ticks if t.symbol == "BTC/USDT"]
    assert len({t.timestamp for t in btc}) == 130
    for prev, cur in itertools.pairwise(btc):
        assert cur.candle is not None and prev.candle is not None
        assert cur.candle.open == pytest.approx(prev.candle.close)  # no price jump between chunks
        assert (cur.timestamp - prev.timestamp).total_seconds() == 3600
    assert all(t.source == "synthetic" for t in ticks)
    # A real 24 h change, not a per-tick one: it equals price vs. the open 24 candles back.
    assert btc[30].change_24h == pytest.approx((btc[30].price / btc[7].candle.open - 1) * 100, abs=1e-6)


@pytest.mark.data
def test_replay_of_the_binance_csv(btc_csv) -> None:  # type: ignore[no-untyped-def]
    ticks = replay_ticks([btc_csv], start="2021-06-01")
    first = next(ticks)
    assert first.symbol == "BTC/USDT" and first.source == "csv"
    assert first.candle is not None and first.candle.open_time.isoformat().startswith("2021-06-01T00:00")
    rest = list(ticks)
    assert rest[-1].candle is not None and rest[-1].candle.open_time.isoformat().startswith("2021-06-10T00:00")
    assert all(-50 < t.change_24h < 50 for t in rest)


def test_a_gap_in_the_candles_does_not_stretch_the_24h_window() -> None:
    frame = candle_frame(80).drop(candle_frame(80).index[50:53])  # 3 missing hours
    ticks = {
        t.candle.open_time: t
        for t in ticks_from_candles(frame, symbol="BTC/USDT", source="csv", timeframe="1h", bar_hours=1.0)
        if t.candle
    }
    t = ticks[frame.index[-1].to_pydatetime()]  # candle 79: its window is candles 56..79 (no gap inside)
    window = frame.loc[frame.index[-1] - pd.Timedelta(hours=23) :]
    assert len(window) == 24
    assert t.volume_24h == pytest.approx(window["volume"].sum())
    assert t.change_24h == pytest.approx((window["close"].iloc[-1] / window["open"].iloc[0] - 1) * 100, abs=1e-6)
    inside = ticks[frame.index[55].to_pydatetime()]  # the window of candle 58 spans the gap: 21 candles
    spanning = frame.loc[frame.index[55] - pd.Timedelta(hours=23) : frame.index[55]]
    assert len(spanning) == 21
    assert inside.high_24h == pytest.approx(spanning["high"].max())


def test_the_simulator_sends_the_pairs_the_system_follows_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from crypto_mlops.config import get_settings
    from crypto_mlops.streaming.sources import default_symbols

    monkeypatch.setenv("PAIRS", "btcusdt,SOL/USDT")
    get_settings.cache_clear()
    try:
        assert default_symbols() == ["BTC/USDT", "SOL/USDT"]
        assert {t.symbol for t in simulate_ticks(max_bars=30)} == {"BTC/USDT", "SOL/USDT"}
    finally:
        monkeypatch.delenv("PAIRS")
        get_settings.cache_clear()
