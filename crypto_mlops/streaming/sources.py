"""Where the producer's ticks come from: CSV replay, the synthetic simulator, or the exchange (live).

Each source is an iterator of `PriceTick`s in event-time order. Pacing (the speed factor) is applied by
the producer, so sources stay pure and testable; only `live_ticks` waits, because it polls.
"""

from __future__ import annotations

import heapq
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.schema import normalize_symbol, timeframe_delta, timeframe_hours
from crypto_mlops.streaming.schemas import PriceTick
from crypto_mlops.streaming.ticks import bars_per_day, ticks_from_candles

log = logging.getLogger(__name__)


def default_symbols(settings: Settings | None = None) -> list[str]:
    """The pairs the system follows (`PAIRS`): what the producer sends when no pairs are given."""
    settings = settings or get_settings()
    return [normalize_symbol(s) for s in settings.pairs.split(",") if s.strip()] or [settings.default_symbol]


def merge_by_event_time(streams: Sequence[Iterable[PriceTick]]) -> Iterator[PriceTick]:
    """Interleave per-symbol streams by event time (ties keep the order of `streams`)."""
    return heapq.merge(*streams, key=lambda t: t.timestamp)


# --- replay ---------------------------------------------------------------------------------------
def replay_ticks(paths: Sequence[Path], symbol: str | None = None, start: str | None = None) -> Iterator[PriceTick]:
    """Ticks of one or more candle CSV files, merged by event time.

    `start` (ISO date) skips earlier candles except the 24 h needed for the first tick's statistics.
    """
    from crypto_mlops.data.sources.csv_source import load_csv

    if symbol is not None and len(paths) > 1:
        raise InvalidInput("--symbol can only name the pair of a single CSV file")
    streams = []
    for path in paths:
        if not Path(path).is_file():
            raise InvalidInput(f"CSV file not found: {path}")
        data = load_csv(path, symbol=symbol)
        streams.append(_ticks_of(data, start))
    return merge_by_event_time(streams)


def _ticks_of(data: MarketData, start: str | None = None) -> Iterator[PriceTick]:
    frame = data.frame
    emit_from = None
    if start is not None:
        try:
            start_ts = pd.Timestamp(start)
        except ValueError as exc:
            raise InvalidInput(f"bad --start {start!r}: {exc}") from exc
        start_ts = start_ts.tz_localize("UTC") if start_ts.tzinfo is None else start_ts.tz_convert("UTC")
        first = int(frame.index.searchsorted(start_ts))
        keep_from = max(0, first - bars_per_day(data.bar_hours))
        frame = frame.iloc[keep_from:]
        emit_from = first - keep_from
    return ticks_from_candles(
        frame,
        symbol=data.symbol,
        source=data.source,
        timeframe=data.timeframe,
        bar_hours=data.bar_hours,
        emit_from=emit_from,
    )


# --- simulate -------------------------------------------------------------------------------------
def simulate_ticks(
    symbols: Sequence[str] | None = None,
    timeframe: str = "1h",
    seed: int = 42,
    chunk_bars: int = 2000,
    max_bars: int | None = None,
    end: pd.Timestamp | None = None,
) -> Iterator[PriceTick]:
    """Endless (or `max_bars` per symbol) synthetic ticks of `symbols` (default: `PAIRS`); each symbol has
    its own seeded path.

    The simulator is called in chunks; each chunk continues the previous price and timeline, and the
    previous 24 h of candles are kept so 24 h statistics stay exact across chunk boundaries.
    """
    streams = [
        _simulate_symbol(normalize_symbol(sym), timeframe, seed + 1000 * i, chunk_bars, max_bars, end)
        for i, sym in enumerate(default_symbols() if symbols is None else symbols)
    ]
    return merge_by_event_time(streams)


def _simulate_symbol(
    symbol: str, timeframe: str, seed: int, chunk_bars: int, max_bars: int | None, end: pd.Timestamp | None
) -> Iterator[PriceTick]:
    from crypto_mlops.data.sources.synthetic import simulate

    bar_hours = timeframe_hours(timeframe)
    step = timeframe_delta(timeframe)
    n24 = bars_per_day(bar_hours)
    # First chunk ends at `end` (default: the last full bar) and includes a 24 h warm-up.
    first_n = n24 - 1 + (min(chunk_bars, max_bars) if max_bars else chunk_bars)
    data = simulate(n_bars=first_n, seed=seed, symbol=symbol, timeframe=timeframe, end=end)
    emitted = 0
    k = 0
    while True:
        for tick in ticks_from_candles(
            data.frame, symbol=symbol, source="synthetic", timeframe=timeframe, bar_hours=bar_hours, emit_from=n24 - 1
        ):
            yield tick
            emitted += 1
            if max_bars is not None and emitted >= max_bars:
                return
        k += 1
        tail = data.frame.iloc[-(n24 - 1) :]
        last_ts = pd.Timestamp(data.frame.index[-1])
        n_next = min(chunk_bars, max_bars - emitted) if max_bars else chunk_bars
        nxt = simulate(
            n_bars=n_next + 1,
            seed=seed + k,
            symbol=symbol,
            timeframe=timeframe,
            end=last_ts + step * n_next,
            start_price=float(data.frame["close"].iloc[-1]),
        )
        # Drop the overlapping first bar and rescale so the next open equals the last close (continuity).
        scale = float(data.frame["close"].iloc[-1]) / float(nxt.frame["close"].iloc[0])
        cont = nxt.frame.iloc[1:].copy()
        cont[["open", "high", "low", "close"]] *= scale
        data = MarketData(pd.concat([tail, cont]), symbol, timeframe, "synthetic")


# --- live -----------------------------------------------------------------------------------------
FetchOHLCV = Callable[..., MarketData]


def live_ticks(
    symbols: Sequence[str] | None,
    exchange: Any | str,
    timeframe: str = "1m",
    poll_s: float = 10.0,
    backfill: int = 60,
    stop: threading.Event | None = None,
    fetch: FetchOHLCV | None = None,
    max_backoff_s: float = 60.0,
) -> Iterator[PriceTick]:
    """Poll the exchange for newly closed candles of every symbol (None: `PAIRS`); backs off while it is
    unreachable.

    At start, 24 h + `backfill` candles are fetched so the first ticks already carry true 24 h stats.
    """
    from crypto_mlops.data.sources.ccxt_source import fetch_ohlcv

    fetch = fetch or fetch_ohlcv
    stop = stop or threading.Event()
    bar_hours = timeframe_hours(timeframe)
    step = timeframe_delta(timeframe)
    n24 = bars_per_day(bar_hours)
    source = exchange if isinstance(exchange, str) else str(getattr(exchange, "id", "exchange"))
    frames: dict[str, pd.DataFrame] = {}
    failures = 0
    syms = [normalize_symbol(s) for s in (default_symbols() if symbols is None else symbols)]
    while not stop.is_set():
        batch: list[PriceTick] = []
        try:
            for symbol in syms:
                batch.extend(
                    _poll_symbol(symbol, frames, fetch, exchange, timeframe, step, n24, backfill, source, bar_hours)
                )
            failures = 0
        except DataUnavailable as exc:
            failures += 1
            delay = min(max_backoff_s, poll_s * 2 ** (failures - 1))
            log.warning("exchange unreachable (%s); retrying in %.0f s", exc, delay)
            stop.wait(delay)
            continue
        yield from sorted(batch, key=lambda t: t.timestamp)
        stop.wait(poll_s)


def _poll_symbol(
    symbol: str,
    frames: dict[str, pd.DataFrame],
    fetch: FetchOHLCV,
    exchange: Any,
    timeframe: str,
    step: pd.Timedelta,
    n24: int,
    backfill: int,
    source: str,
    bar_hours: float,
) -> list[PriceTick]:
    known = frames.get(symbol)
    if known is None:
        limit = n24 - 1 + backfill
        data = fetch(symbol=symbol, timeframe=timeframe, since=None, limit=limit, exchange=exchange)
        frame = data.frame
        emit_from = max(0, len(frame) - backfill)
    else:
        since = pd.Timestamp(known.index[-1]) + step
        data = fetch(symbol=symbol, timeframe=timeframe, since=since, limit=1000, exchange=exchange)
        new = data.frame[data.frame.index > known.index[-1]]
        if new.empty:
            return []
        frame = pd.concat([known, new])
        emit_from = len(known)
    ticks = list(
        ticks_from_candles(
            frame, symbol=symbol, source=source, timeframe=timeframe, bar_hours=bar_hours, emit_from=emit_from
        )
    )
    frames[symbol] = frame.iloc[-(n24 + 1) :]
    return ticks
