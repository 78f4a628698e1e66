"""OHLCV cache: fresh hits never call the source, stale entries are served while refreshing."""

from __future__ import annotations

import threading
import time

import pytest

from crypto_mlops.data.errors import DataUnavailable
from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.service.cache import CacheKey, OHLCVCache

KEY = CacheKey("synthetic", "", "BTC/USDT", "1h")


class CountingLoader:
    def __init__(self, delay_s: float = 0.0) -> None:
        self.calls = 0
        self.fail = False
        self.delay_s = delay_s
        self.lock = threading.Lock()

    def __call__(self, key: CacheKey, bars: int):  # type: ignore[no-untyped-def]
        time.sleep(self.delay_s)
        with self.lock:
            self.calls += 1
        if self.fail:
            raise DataUnavailable("exchange down")
        return simulate(n_bars=bars, seed=self.calls, symbol=key.symbol, timeframe=key.timeframe)


def test_fresh_entry_is_served_without_calling_the_source() -> None:
    loader = CountingLoader()
    cache = OHLCVCache(loader, ttl_s=60, min_bars=300)
    first = cache.get(KEY, 200)
    second = cache.get(KEY, 250)
    assert loader.calls == 1
    assert len(first.data.frame) == 300  # fetched min_bars once, sliced by the service
    assert second.data is first.data
    assert cache.hits == 1 and cache.misses == 1


def test_bigger_request_than_cached_fetches_again() -> None:
    loader = CountingLoader()
    cache = OHLCVCache(loader, ttl_s=60, min_bars=100)
    cache.get(KEY, 100)
    got = cache.get(KEY, 400)
    assert loader.calls == 2
    assert len(got.data.frame) == 400


def test_stale_entry_is_served_at_once_and_refreshed_in_background() -> None:
    loader = CountingLoader(delay_s=0.3)
    cache = OHLCVCache(loader, ttl_s=0.1, min_bars=100)
    cache.get(KEY, 100)
    time.sleep(0.15)
    started = time.perf_counter()
    stale = cache.get(KEY, 100)
    assert time.perf_counter() - started < 0.1  # did not wait for the 0.3 s source
    assert stale.age_s >= 0.1
    deadline = time.monotonic() + 5
    while loader.calls < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    assert loader.calls == 2
    assert cache.get(KEY, 100).age_s < 0.1


def test_source_down_serves_stale_candles_or_raises_when_cold() -> None:
    loader = CountingLoader()
    cache = OHLCVCache(loader, ttl_s=0.05, min_bars=100, max_stale_s=0.05)
    cache.get(KEY, 100)
    time.sleep(0.1)
    loader.fail = True
    assert len(cache.get(KEY, 100).data.frame) == 100  # too old to serve without trying, but better than nothing
    with pytest.raises(DataUnavailable, match="exchange down"):
        cache.get(CacheKey("synthetic", "", "ETH/USDT", "1h"), 100)


def test_keep_warm_thread_refreshes_recently_used_keys() -> None:
    loader = CountingLoader()
    cache = OHLCVCache(loader, ttl_s=0.2, min_bars=100)
    cache.get(KEY, 100)
    cache.start()
    try:
        deadline = time.monotonic() + 5
        while loader.calls < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        cache.stop()
    assert loader.calls >= 3
    assert cache.keys() == [KEY]


def test_concurrent_cold_requests_fetch_once() -> None:
    loader = CountingLoader(delay_s=0.2)
    cache = OHLCVCache(loader, ttl_s=60, min_bars=100)
    threads = [threading.Thread(target=cache.get, args=(KEY, 100)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert loader.calls == 1


def test_static_sources_keep_their_candles_longer() -> None:
    loader = CountingLoader()
    cache = OHLCVCache(loader, ttl_s=0.05, min_bars=100, static_ttl_s=60)
    exchange_key = CacheKey("ccxt", "binance", "BTC/USDT", "1h")
    cache.get(KEY, 100)
    cache.get(exchange_key, 100)
    time.sleep(0.1)
    assert cache.get(KEY, 100).age_s >= 0.1  # synthetic: still fresh after the exchange TTL
    cache.get(exchange_key, 100)  # exchange: stale, served and refreshed in the background
    deadline = time.monotonic() + 5
    while loader.calls < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert loader.calls == 3


def _keys(n: int) -> list[CacheKey]:
    return [CacheKey("synthetic", "", f"X{i:04d}/USDT", "1h") for i in range(n)]


def test_many_pairs_stay_within_max_entries_least_recently_used_first() -> None:
    cache = OHLCVCache(CountingLoader(), ttl_s=60, min_bars=100, max_entries=20)
    keys = _keys(300)
    for key in keys:
        cache.get(key, 100)
        cache.get(keys[0], 100)  # keeps being used, so it is never the least recently used
    stats = cache.stats()
    assert stats.entries == 20 and stats.evictions == 280
    kept = set(cache.keys())
    assert keys[0] in kept and keys[-1] in kept and keys[1] not in kept
    assert len(cache._key_locks) <= 20  # no lock left behind per evicted or failed key


def test_many_pairs_stay_within_max_bytes() -> None:
    one = OHLCVCache(CountingLoader(), ttl_s=60, min_bars=100)
    one.get(KEY, 100)
    entry_bytes = one.stats().bytes
    cache = OHLCVCache(CountingLoader(), ttl_s=60, min_bars=100, max_bytes=int(entry_bytes * 5.5))
    for key in _keys(100):
        cache.get(key, 100)
    stats = cache.stats()
    assert stats.entries == 5 and stats.bytes <= stats.max_bytes


def test_failed_keys_leave_nothing_behind() -> None:
    loader = CountingLoader()
    loader.fail = True
    cache = OHLCVCache(loader, ttl_s=60, min_bars=100)
    for key in _keys(50):
        with pytest.raises(DataUnavailable):
            cache.get(key, 100)
    assert cache.stats().entries == 0 and not cache._key_locks
