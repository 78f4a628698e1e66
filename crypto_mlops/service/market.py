"""Market resolution: which candles a request means (symbol, timeframe, exchange, limit) and the cache they come from.

The service checks the *meaning* of these inputs here and raises `InvalidInput` (caller's fault) or
`DataUnavailable` (source down, too few candles); every adapter maps those to its own error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

import pandas as pd

from crypto_mlops.config import Settings
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.schema import normalize_symbol, symbol_slug, timeframe_hours
from crypto_mlops.service.cache import CacheKey, OHLCVCache
from crypto_mlops.service.limits import MAX_LIMIT, MIN_LIMIT, check_range
from crypto_mlops.service.results import OHLCVResult, iso_z
from crypto_mlops.service.wire import ohlcv_bars

CACHE_BARS = 1500  # bars fetched per key; the model sees all of them (HAR wants ~1000), responses slice `limit`
STATIC_SOURCE_TTL_S = 900.0  # csv / synthetic candles: re-read every 15 min at most
_EXCHANGE_RE = re.compile(r"^[a-z0-9_]{2,32}$")

MarketLoader = Callable[[CacheKey, int, Settings], MarketData]


def default_market_loader(key: CacheKey, bars: int, settings: Settings) -> MarketData:
    from crypto_mlops.data import load_market_data

    csv_path = _csv_path_for(settings.data_csv_path, key.symbol, key.timeframe) if key.source == "csv" else None
    if key.source == "ccxt" and key.exchange != settings.exchange:
        settings = settings.model_copy(update={"exchange": key.exchange})
    data = load_market_data(key.source, key.symbol, key.timeframe, limit=bars, csv_path=csv_path, settings=settings)
    if key.source == "csv" and data.symbol != key.symbol:
        raise InvalidInput(f"DATA_CSV_PATH holds {data.symbol} candles, not {key.symbol}")
    return data


def _csv_path_for(configured: Path | None, symbol: str, timeframe: str) -> Path:
    """DATA_CSV_PATH: one file, or a directory of `*<SLUG>*<timeframe>*.csv` (Binance_BTCUSDT_1h.csv)."""
    if configured is None:
        raise DataUnavailable("DATA_SOURCE=csv but DATA_CSV_PATH is not set")
    if configured.is_dir():
        slug = symbol_slug(symbol)
        matches = sorted(configured.glob(f"*{slug}*{timeframe}*.csv")) or sorted(configured.glob(f"*{slug}*.csv"))
        if not matches:
            raise InvalidInput(f"no CSV for {symbol} {timeframe} under DATA_CSV_PATH")
        return matches[0]
    if not configured.exists():
        raise DataUnavailable(f"DATA_CSV_PATH {configured} does not exist")
    return configured


class ResultOrigin(TypedDict):
    """What every result says about the candles it is based on."""

    symbol: str
    exchange: str
    timeframe: str
    source: str
    candle_time: str


@dataclass(frozen=True)
class Market:
    """Candles resolved for one request: the full cached history plus the request's slice."""

    key: CacheKey
    data: MarketData
    age_s: float
    limit: int

    @property
    def frame(self) -> pd.DataFrame:
        return self.data.frame.iloc[-self.limit :]

    @property
    def candle_time(self) -> str:
        return iso_z(self.data.last_timestamp) or ""

    @property
    def fetch_id(self) -> int:
        return int(cast(int, self.data.meta.get("fetch_id", id(self.data))))


class Markets:
    """Resolves a request's market inputs and serves its candles from the OHLCV cache."""

    def __init__(self, settings: Settings, loader: MarketLoader = default_market_loader) -> None:
        self.settings = settings
        self._loader = loader
        self.cache = OHLCVCache(
            self._load,
            ttl_s=settings.ohlcv_cache_ttl_s,
            min_bars=CACHE_BARS,
            static_ttl_s=STATIC_SOURCE_TTL_S,
            max_entries=settings.ohlcv_cache_max_entries,
            max_bytes=int(settings.ohlcv_cache_max_mb * 2**20),
        )

    def resolve_key(self, symbol: str | None, timeframe: str | None, exchange: str | None = None) -> CacheKey:
        sym = normalize_symbol(symbol or self.settings.default_symbol)
        tf = timeframe or self.settings.default_timeframe
        timeframe_hours(tf)  # raises InvalidInput for unknown timeframes
        source = self.settings.data_source
        ex = (exchange or self.settings.exchange).strip().lower()
        if not _EXCHANGE_RE.match(ex):
            raise InvalidInput(f"invalid exchange {exchange!r}: expected a ccxt exchange id such as 'binance'")
        if source == "ccxt":
            import ccxt

            if ex not in ccxt.exchanges:
                raise InvalidInput(f"unknown exchange {ex!r}: not a ccxt exchange id")
        else:
            ex = ""  # csv/synthetic candles do not depend on the exchange: share one cache entry
        return CacheKey(source, ex, sym, tf)

    def market(self, symbol: str | None, timeframe: str | None, limit: int, exchange: str | None = None) -> Market:
        limit = check_range("limit", limit, MIN_LIMIT, MAX_LIMIT)
        key = self.resolve_key(symbol, timeframe, exchange)
        cached = self.cache.get(key, limit)
        if len(cached.data.frame) < MIN_LIMIT:
            raise DataUnavailable(
                f"insufficient OHLCV data: {len(cached.data.frame)} candles of {key.symbol} {key.timeframe} "
                f"from {cached.data.source}, need {MIN_LIMIT}"
            )
        return Market(key, cached.data, cached.age_s, limit)

    def origin(self, m: Market, exchange: str | None) -> ResultOrigin:
        """Fields naming the candles behind a result; the exchange is the caller's, else the configured one."""
        return ResultOrigin(
            symbol=m.key.symbol,
            exchange=exchange or self.settings.exchange,
            timeframe=m.key.timeframe,
            source=m.data.source,
            candle_time=m.candle_time,
        )

    def ohlcv(self, symbol: str | None, timeframe: str | None, limit: int, exchange: str | None = None) -> OHLCVResult:
        m = self.market(symbol, timeframe, limit, exchange)
        return OHLCVResult(
            **self.origin(m, exchange),
            limit=m.limit,
            rows=len(m.frame),
            data=ohlcv_bars(m.frame),
            cache_age_s=round(m.age_s, 3),
        )

    def _load(self, key: CacheKey, bars: int) -> MarketData:
        try:
            return self._loader(key, bars, self.settings)
        except (InvalidInput, DataUnavailable):
            raise
        except Exception as exc:  # network errors, ccxt errors, broken files: the source is unavailable
            raise DataUnavailable(f"{key.source} source failed for {key.symbol} {key.timeframe}: {exc}") from exc
