"""OHLCV cache per (source, exchange, symbol, timeframe): TTL, stale-while-revalidate, background refresh, LRU bound.

A request never waits on the exchange while cached candles are fresh. When they are stale (but not
too old) the request is answered from the cache and a refresh runs in the background; only a cold
key, or one older than `max_stale_s`, makes the caller wait for the source. A background thread keeps
recently used keys warm so that the steady state is always "fresh". The cache holds at most
`max_entries` keys and `max_bytes` of candles: the least recently used key goes first, so many distinct
pairs cannot grow the process without bound (`stats()` feeds the metrics).
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from pydantic import BaseModel

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
    nbytes: int = 0
    refreshing: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class Cached:
    data: MarketData
    age_s: float


class CacheStats(BaseModel, frozen=True):
    """The candle cache against its bounds (OHLCV_CACHE_MAX_ENTRIES, OHLCV_CACHE_MAX_MB)."""

    entries: int
    bytes: int
    max_entries: int
    max_bytes: int
    hits: int
    misses: int
    evictions: int
    refresh_errors: int


def frame_bytes(data: MarketData) -> int:
    """Memory held by a fetch's candles (index included)."""
    return int(data.frame.memory_usage(index=True, deep=True).sum())


class OHLCVCache:
    def __init__(
        self,
        loader: Loader,
        ttl_s: float = 60.0,
        min_bars: int = 1000,
        max_stale_s: float | None = None,
        keep_warm_s: float = 900.0,
        static_ttl_s: float | None = None,
        max_entries: int = 256,
        max_bytes: int = 256 * 2**20,
    ) -> None:
        self._loader = loader
        self.ttl_s = max(0.1, ttl_s)
        self.min_bars = min_bars
        self.max_stale_s = max_stale_s if max_stale_s is not None else 10 * self.ttl_s
        # csv/synthetic candles do not move like an exchange's: refresh them less often (None = same TTL).
        self.static_ttl_s = max(self.ttl_s, static_ttl_s) if static_ttl_s is not None else self.ttl_s
        self.keep_warm_s = keep_warm_s
        self.max_entries = max(1, max_entries)
        self.max_bytes = max(1, max_bytes)
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()  # least recently used first
        self._bytes = 0
        self._key_locks: dict[CacheKey, threading.Lock] = {}
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fetch_ids = itertools.count(1)
        self.hits = 0
        self.misses = 0
        self.refresh_errors = 0
        self.evictions = 0

    # -- public -----------------------------------------------------------------------------
    def get(self, key: CacheKey, bars: int) -> Cached:
        """Candles for `key` with at least `bars` rows when the source has them (fewest waits possible)."""
        cached = self.peek(key, bars)
        if cached is not None:
            return cached
        self.misses += 1
        return self._fetch_blocking(key, bars, stale=self._entries.get(key))

    def peek(self, key: CacheKey, bars: int) -> Cached | None:
        """What `get` returns when it need not wait on the source (counted as a hit), else None.

        Never blocks on a fetch, so an event loop may call it (the REST fast path does).
        """
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is None or not self._covers(entry, bars):
            return None
        age = now - entry.fetched_at
        ttl = self._ttl(key)
        if age >= max(self.max_stale_s, ttl):
            return None
        self._touch(key, entry, now)
        self.hits += 1
        if age >= ttl:
            self._refresh_async(key)
        return Cached(entry.data, age)

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
        with self._guard:
            return list(self._entries)

    def stats(self) -> CacheStats:
        with self._guard:
            return CacheStats(
                entries=len(self._entries),
                bytes=self._bytes,
                max_entries=self.max_entries,
                max_bytes=self.max_bytes,
                hits=self.hits,
                misses=self.misses,
                evictions=self.evictions,
                refresh_errors=self.refresh_errors,
            )

    # -- internals --------------------------------------------------------------------------
    @staticmethod
    def _covers(entry: _Entry, bars: int) -> bool:
        # The source may hold fewer bars than asked for (short CSV); then what we have is all there is.
        return len(entry.data.frame) >= bars or entry.bars_requested >= bars

    def _key_lock(self, key: CacheKey) -> threading.Lock:
        with self._guard:
            return self._key_locks.setdefault(key, threading.Lock())

    def _touch(self, key: CacheKey, entry: _Entry, now: float) -> None:
        entry.last_used = now
        with self._guard:
            if self._entries.get(key) is entry:
                self._entries.move_to_end(key)

    def _store(self, key: CacheKey, fresh: _Entry) -> None:
        """Put `fresh` as the most recently used entry, then evict the least recently used over the bounds."""
        with self._guard:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = fresh
            self._bytes += fresh.nbytes
            # The newest entry always stays, even alone over max_bytes: the request that fetched it needs it.
            while len(self._entries) > 1 and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
                evicted_key, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes
                self._key_locks.pop(evicted_key, None)
                self.evictions += 1

    def _forget_lock(self, key: CacheKey) -> None:
        # Keys that never made it into the cache (bad pairs, failed loads) must not leave a lock behind.
        with self._guard:
            if key not in self._entries:
                self._key_locks.pop(key, None)

    def _load(self, key: CacheKey, bars: int) -> _Entry:
        want = max(bars, self.min_bars)
        data = self._loader(key, want)
        if data.frame.empty:
            raise DataUnavailable(f"no candles for {key.symbol} {key.timeframe} from {key.source}")
        # Identifies this fetch: results computed from it can be reused until the next fetch replaces it
        # (the last candle of an exchange is still open, so the candle time alone is not enough).
        data.meta["fetch_id"] = next(self._fetch_ids)
        now = time.monotonic()
        return _Entry(data=data, fetched_at=now, bars_requested=want, last_used=now, nbytes=frame_bytes(data))

    def _fetch_blocking(self, key: CacheKey, bars: int, stale: _Entry | None) -> Cached:
        try:
            return self._fetch_locked(key, bars, stale)
        finally:
            self._forget_lock(key)

    def _fetch_locked(self, key: CacheKey, bars: int, stale: _Entry | None) -> Cached:
        with self._key_lock(key):
            # Another thread may have fetched while we waited for the lock.
            entry = self._entries.get(key)
            now = time.monotonic()
            if entry is not None and entry is not stale and self._covers(entry, bars):
                self._touch(key, entry, now)
                return Cached(entry.data, now - entry.fetched_at)
            try:
                fresh = self._load(key, max(bars, stale.bars_requested if stale else 0))
            except DataUnavailable:
                if stale is not None and self._covers(stale, bars):
                    log.warning("source down for %s; serving candles %.0f s old", key, now - stale.fetched_at)
                    return Cached(stale.data, now - stale.fetched_at)
                raise
            self._store(key, fresh)
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
                with self._guard:
                    evicted_meanwhile = self._entries.get(key) is not entry
                if not evicted_meanwhile:
                    self._store(key, fresh)
        except Exception as exc:  # keep serving the old candles; the next request retries
            self.refresh_errors += 1
            log.warning("background refresh of %s failed: %s", key, exc)
        finally:
            entry.refreshing = False
            self._forget_lock(key)

    def _keep_warm(self) -> None:
        interval = min(max(self.ttl_s / 4, 0.05), 15.0)
        while not self._stop.wait(interval):
            now = time.monotonic()
            with self._guard:
                entries = list(self._entries.items())
            for key, entry in entries:
                recently_used = now - entry.last_used < self.keep_warm_s
                if recently_used and now - entry.fetched_at > 0.75 * self._ttl(key):
                    self._refresh_async(key)
