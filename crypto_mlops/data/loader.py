"""One entry point for candles from any source, used by the service, CLI, streaming and pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.schema import normalize_symbol, timeframe_hours

Source = Literal["ccxt", "csv", "synthetic"]
SOURCES: tuple[str, ...] = ("ccxt", "csv", "synthetic")


def load_market_data(
    source: str | None = None,
    symbol: str | None = None,
    timeframe: str | None = None,
    limit: int | None = None,
    csv_path: str | Path | None = None,
    since: pd.Timestamp | None = None,
    settings: Settings | None = None,
) -> MarketData:
    """Load candles. `limit` keeps the newest `limit` candles (csv, synthetic) or fetches that many (ccxt)."""
    settings = settings or get_settings()
    source = source or settings.data_source
    if source not in SOURCES:
        raise InvalidInput(f"unknown data source {source!r}: expected one of {', '.join(SOURCES)}")
    symbol = normalize_symbol(symbol or settings.default_symbol)
    timeframe = timeframe or settings.default_timeframe
    timeframe_hours(timeframe)
    if limit is not None and limit < 1:
        raise InvalidInput("limit must be positive")

    if source == "csv":
        from crypto_mlops.data.sources.csv_source import load_csv

        path = csv_path or settings.data_csv_path
        if path is None:
            raise InvalidInput("source 'csv' needs a file: pass --data FILE or set DATA_CSV_PATH")
        data = load_csv(path, symbol=None, timeframe=None)
        if data.timeframe != timeframe:
            raise InvalidInput(f"{Path(path).name} holds {data.timeframe} candles, not {timeframe}")
        if since is not None:
            data.frame = data.frame[data.frame.index >= since]
    elif source == "synthetic":
        from crypto_mlops.data.sources.synthetic import simulate

        data = simulate(n_bars=limit or 24 * 90, seed=settings.synthetic_seed, symbol=symbol, timeframe=timeframe)
    else:
        from crypto_mlops.data.sources.ccxt_source import fetch_ohlcv

        data = fetch_ohlcv(
            symbol,
            timeframe,
            since=since,
            limit=limit or 500,
            exchange=settings.exchange,
            retries=settings.exchange_max_retries,
            timeout_s=settings.exchange_timeout_s,
        )
    if limit is not None and len(data.frame) > limit:
        data = data.tail(limit)
    return data
