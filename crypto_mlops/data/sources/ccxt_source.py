"""Candles from a ccxt exchange: paginated `since` fetch, rate limit on, retries with backoff."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

import ccxt
import pandas as pd

from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.quality import validate
from crypto_mlops.data.schema import canonical_frame, normalize_symbol, timeframe_delta, timeframe_hours

PAGE_LIMIT = 1000  # Binance's maximum per request
RETRYABLE = (ccxt.NetworkError, ccxt.ExchangeNotAvailable, ccxt.RequestTimeout, ccxt.DDoSProtection)


def make_exchange(exchange_id: str = "binance", timeout_s: float = 10.0) -> Any:
    if exchange_id not in ccxt.exchanges:
        raise InvalidInput(f"unknown ccxt exchange {exchange_id!r}")
    return getattr(ccxt, exchange_id)({"enableRateLimit": True, "timeout": int(timeout_s * 1000)})


def with_retries(call: Callable[[], Any], retries: int = 3, base_delay: float = 0.5, what: str = "request") -> Any:
    """Run `call`, retrying transient exchange errors with exponential backoff (0.5 s, 1 s, 2 s ...)."""
    for attempt in range(retries + 1):
        try:
            return call()
        except ccxt.BadSymbol as exc:
            raise InvalidInput(f"symbol not listed on the exchange: {exc}") from exc
        except RETRYABLE as exc:
            if attempt == retries:
                reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                raise DataUnavailable(f"exchange unreachable after {retries + 1} tries ({what}): {reason}") from exc
            time.sleep(base_delay * 2**attempt)
        except ccxt.ExchangeError as exc:
            raise DataUnavailable(f"exchange error ({what}): {str(exc)[:200]}") from exc
    raise AssertionError("unreachable")  # pragma: no cover


def fetch_ohlcv(
    symbol: str = "BTC/USDT",
    timeframe: str = "1h",
    since: pd.Timestamp | None = None,
    limit: int = 500,
    exchange: Any | str = "binance",
    retries: int = 3,
    timeout_s: float = 10.0,
    progress: Callable[[int], None] | None = None,
) -> MarketData:
    """Fetch `limit` candles starting at `since` (or the latest `limit` candles when since is None).

    Pages of up to 1000 candles are requested until `limit` candles arrive or the exchange has no more.
    The still-open last candle is dropped so every candle is closed.
    """
    symbol = normalize_symbol(symbol)
    step = timeframe_delta(timeframe)
    timeframe_hours(timeframe)
    if limit < 1:
        raise InvalidInput("limit must be positive")
    client = make_exchange(exchange, timeout_s) if isinstance(exchange, str) else exchange
    now = pd.Timestamp.now(tz="UTC")
    start = since if since is not None else now.floor(step) - step * limit
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    cursor_ms = int(start.timestamp() * 1000)
    rows: list[list[float]] = []
    while len(rows) < limit:
        page_size = min(PAGE_LIMIT, limit - len(rows))
        page = with_retries(
            functools.partial(client.fetch_ohlcv, symbol, timeframe, cursor_ms, page_size),
            retries=retries,
            what=f"fetch_ohlcv {symbol} {timeframe}",
        )
        page = [row for row in page if row[0] >= cursor_ms]
        if not page:
            break
        rows.extend(page)
        if progress:
            progress(len(page))
        cursor_ms = int(page[-1][0] + step.total_seconds() * 1000)
        if len(page) < page_size:
            break
    if not rows:
        raise DataUnavailable(f"exchange returned no candles for {symbol} {timeframe}")
    frame = pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume"])
    frame.index = pd.to_datetime(frame.pop("ts"), unit="ms", utc=True)
    frame = canonical_frame(frame)
    frame = frame[frame.index + step <= now]  # only closed candles
    exchange_id = getattr(client, "id", str(exchange))
    return MarketData(frame, symbol, timeframe, exchange_id, validate(frame, timeframe), {})
