"""The ccxt source against a real ccxt exchange object whose network calls are replaced by recorded-style data."""

import time
from typing import Any

import ccxt
import pandas as pd
import pytest

from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.data.sources import ccxt_source
from crypto_mlops.data.sources.ccxt_source import fetch_ohlcv, make_exchange

HOUR_MS = 3_600_000


class SimulatedBinance:
    """Answers fetch_ohlcv like Binance does: up to `limit` candles from `since`, none beyond `last`."""

    def __init__(self, first: pd.Timestamp, last: pd.Timestamp, failures: int = 0, error: type = ccxt.NetworkError):
        self.exchange = make_exchange("binance")
        self.first, self.last = int(first.timestamp() * 1000), int(last.timestamp() * 1000)
        self.failures, self.error, self.calls = failures, error, []
        self.exchange.fetch_ohlcv = self.fetch_ohlcv  # real ccxt object, network call replaced

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int) -> list[list[Any]]:
        self.calls.append((symbol, timeframe, since, limit))
        if self.failures:
            self.failures -= 1
            raise self.error("simulated outage")
        start = max(since, self.first)
        start += (-start) % HOUR_MS
        stamps = range(start, min(self.last, start + (limit - 1) * HOUR_MS) + 1, HOUR_MS)
        return [[t, 100.0, 101.0, 99.0, 100.5, 2.0] for t in stamps]


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ccxt_source.time, "sleep", lambda s: None)


def test_paginates_since_until_limit() -> None:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    fake = SimulatedBinance(start, start + pd.Timedelta(hours=2999))
    market = fetch_ohlcv("BTCUSDT", "1h", since=start, limit=2500, exchange=fake.exchange)
    assert len(market.frame) == 2500 and market.source == "binance"
    assert [call[3] for call in fake.calls] == [1000, 1000, 500]
    assert market.frame.index[0] == start and market.frame.index.is_unique


def test_stops_when_the_exchange_has_no_more() -> None:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    fake = SimulatedBinance(start, start + pd.Timedelta(hours=1499))
    market = fetch_ohlcv("BTC/USDT", "1h", since=start, limit=5000, exchange=fake.exchange)
    assert len(market.frame) == 1500


def test_retries_transient_errors_then_succeeds() -> None:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    fake = SimulatedBinance(start, start + pd.Timedelta(hours=99), failures=2)
    market = fetch_ohlcv("BTC/USDT", "1h", since=start, limit=100, exchange=fake.exchange, retries=3)
    assert len(market.frame) == 100 and len(fake.calls) == 3


def test_gives_up_with_a_clear_reason() -> None:
    start = pd.Timestamp("2024-01-01", tz="UTC")
    fake = SimulatedBinance(start, start, failures=10, error=ccxt.RequestTimeout)
    with pytest.raises(DataUnavailable, match="unreachable after 3 tries"):
        fetch_ohlcv("BTC/USDT", "1h", since=start, limit=10, exchange=fake.exchange, retries=2)


def test_unknown_symbol_is_the_callers_fault() -> None:
    fake = SimulatedBinance(
        pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-02", tz="UTC"), failures=1, error=ccxt.BadSymbol
    )
    with pytest.raises(InvalidInput, match="not listed"):
        fetch_ohlcv("DOGE/XYZ", "1h", limit=10, exchange=fake.exchange)


def test_unknown_exchange() -> None:
    with pytest.raises(InvalidInput, match="unknown ccxt exchange"):
        make_exchange("no-such-exchange")


def test_open_candle_is_dropped() -> None:
    now = pd.Timestamp.now(tz="UTC").floor("h")
    fake = SimulatedBinance(now - pd.Timedelta(hours=50), now)
    market = fetch_ohlcv("BTC/USDT", "1h", limit=100, exchange=fake.exchange)
    assert market.last_timestamp == now - pd.Timedelta(hours=1)


def test_offline_fails_fast_through_the_real_client() -> None:
    """No network here: the real client must fail within seconds, not hang."""
    started = time.monotonic()
    with pytest.raises(DataUnavailable):
        fetch_ohlcv("BTC/USDT", "1h", limit=10, exchange=make_exchange("binance", timeout_s=3), retries=1)
    assert time.monotonic() - started < 30
