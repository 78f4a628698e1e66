"""OHLCV cache per (source, exchange, symbol, timeframe): TTL, stale-while-revalidate, background refresh.

A request never waits on the exchange while cached candles are fresh. When they are stale (but not
too old) the request is answered from the cache and a refresh runs in the background; only a cold
key, or one older than `max_stale_s`, makes the caller wait for the source. A background thread keeps
recently used keys warm so that the steady state is always "fresh".
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from crypto_mlops.data.errors import DataUnavailable
from crypto_mlops.data.market import MarketData

log = logging.getLogger(__name__)


class CacheKey(NamedTuple):
    source: str  # ccxt | csv | synthetic
    exchange: str
    symbol: str
    timeframe: str


Loader = Callable[[CacheKey, int], MarketData]


@dataclass
class _Entry:
    data: MarketData
    fetched_at: float  # time.monotonic()
    bars_requested: int
    last_used: float
    refreshing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Cached:
    data: MarketData
    age_s: float


class OHLCVCache:
    def __init__(
        self,
        loader: Loader,
        ttl_s: float = 60.0,
        min_bars: int = 1000,
        max_stale_s: float | None = None,
        keep_warm_s: float = 900.0,
        static_ttl_s: float | None = None,
    ) -> None:
        self._loader = loader
        self.ttl_s = max(0.1, ttl_s)
        self.min_bars = min_bars
        self.max_stale_s = max_stale_s if max_stale_s is not None else 10 * self.ttl_s
        # csv/synthetic candles do not move like an exchange's: refresh them less often (None = same TTL).
        self.static_ttl_s = max(self.ttl_s, static_ttl_s) if static_ttl_s is not None else self.ttl_s
        self.keep_warm_s = keep_warm_s
        self._entries: dict[CacheKey, _Entry] = {}
        self._key_locks: dict[CacheKey, threading.Lock] = {}
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fetch_ids = itertools.count(1)
        self.hits = 0
        self.misses = 0
        self.refresh_errors = 0

    # -- public -----------------------------------------------------------------------------
    def get(self, key: CacheKey, bars: int) -> Cached:
        """Candles for `key` with at least `bars` rows when the source has them (fewest waits possible)."""
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and self._covers(entry, bars):
            age = now - entry.fetched_at
            entry.last_used = now
            ttl = self._ttl(key)
            if age < ttl:
                self.hits += 1
                return Cached(entry.data, age)
            if age < max(self.max_stale_s, ttl):
                self.hits += 1
                self._refresh_async(key)
                return Cached(entry.data, age)
        self.misses += 1
        return self._fetch_blocking(key, bars, stale=entry)

    def start(self) -> None:
        """Start the keep-warm thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._keep_warm, name="ohlcv-cache-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None

    def _ttl(self, key: CacheKey) -> float:
        return self.ttl_s if key.source == "ccxt" else self.static_ttl_s

    def keys(self) -> list[CacheKey]:
        return list(self._entries)

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _covers(entry: _Entry, bars: int) -> bool:
        # The source may hold fewer bars than asked for (short CSV); then what we have is all there is.
        return len(entry.data.frame) >= bars or entry.bars_requested >= bars

    def _key_lock(self, key: CacheKey) -> threading.Lock:
        with self._guard:
            return self._key_locks.setdefault(key, threading.Lock())

    def _load(self, key: CacheKey, bars: int) -> _Entry:
        want = max(bars, self.min_bars)
        data = self._loader(key, want)
        if data.frame.empty:
            raise DataUnavailable(f"no candles for {key.symbol} {key.timeframe} from {key.source}")
        # Identifies this fetch: results computed from it can be reused until the next fetch replaces it
        # (the last candle of an exchange is still open, so the candle time alone is not enough).
        data.meta["fetch_id"] = next(self._fetch_ids)
        now = time.monotonic()
        return _Entry(data=data, fetched_at=now, bars_requested=want, last_used=now)

    def _fetch_blocking(self, key: CacheKey, bars: int, stale: _Entry | None) -> Cached:
        with self._key_lock(key):
            # Another thread may have fetched while we waited for the lock.
            entry = self._entries.get(key)
            now = time.monotonic()
            if entry is not None and entry is not stale and self._covers(entry, bars):
                entry.last_used = now
                return Cached(entry.data, now - entry.fetched_at)
            try:
                fresh = self._load(key, max(bars, stale.bars_requested if stale else 0))
            except DataUnavailable:
                if stale is not None and self._covers(stale, bars):
                    log.warning("source down for %s; serving candles %.0f s old", key, now - stale.fetched_at)
                    return Cached(stale.data, now - stale.fetched_at)
                raise
            self._entries[key] = fresh
            return Cached(fresh.data, 0.0)

    def _refresh_async(self, key: CacheKey) -> None:
        entry = self._entries.get(key)
        if entry is None or entry.refreshing:
            return
        entry.refreshing = True
        threading.Thread(target=self._refresh, args=(key,), name="ohlcv-refresh", daemon=True).start()

    def _refresh(self, key: CacheKey) -> None:
        entry = self._entries.get(key)
        if entry is None:
            return
        try:
            with self._key_lock(key):
                fresh = self._load(key, entry.bars_requested)
                fresh.last_used = entry.last_used
                self._entries[key] = fresh
        except Exception as exc:  # keep serving the old candles; the next request retries
            self.refresh_errors += 1
            log.warning("background refresh of %s failed: %s", key, exc)
        finally:
            entry.refreshing = False

    def _keep_warm(self) -> None:
        interval = min(max(self.ttl_s / 4, 0.05), 15.0)
        while not self._stop.wait(interval):
            now = time.monotonic()
            for key, entry in list(self._entries.items()):
                recently_used = now - entry.last_used < self.keep_warm_s
                if recently_used and now - entry.fetched_at > 0.75 * self._ttl(key):
                    self._refresh_async(key)
