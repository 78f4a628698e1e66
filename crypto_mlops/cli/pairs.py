"""The candles a CLI command works on: `--data FILE` (repeatable), or `--symbols A,B` fetched from a source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crypto_mlops.data.errors import InvalidInput

if TYPE_CHECKING:
    from crypto_mlops.data.market import MarketData


@dataclass
class PairData:
    key: str  # the pair's name in tables and JSON (the file stem when two files hold the same symbol)
    market: MarketData
    origin: str  # where the candles came from: the file, or "<source>:<symbol>"


def parse_symbols(symbols: str | None) -> list[str]:
    """`"BTC/USDT, eth/usdt"` -> ["BTC/USDT", "ETH/USDT"] (normalized, duplicates refused)."""
    from crypto_mlops.data.schema import normalize_symbol

    names = [normalize_symbol(s) for s in (symbols or "").split(",") if s.strip()]
    if len(set(names)) != len(names):
        raise InvalidInput(f"--symbols lists a pair twice: {', '.join(names)}")
    return names


def load_pairs_data(
    data: list[Path] | None,
    source: str | None = None,
    symbols: str | None = None,
    timeframe: str | None = None,
    limit: int | None = None,
) -> list[PairData]:
    """Candles per pair, from files or from a source (ccxt, synthetic; default DATA_SOURCE)."""
    names = parse_symbols(symbols)
    if data and names:
        raise InvalidInput("use --data FILE ... or --symbols with a --source, not both")
    if data:
        from crypto_mlops.data.sources.csv_source import load_csv

        markets = [(str(path), path.stem, load_csv(path)) for path in data]
        symbols_seen = [m.symbol for _, _, m in markets]
        return [
            PairData(m.symbol if symbols_seen.count(m.symbol) == 1 else stem, m, origin) for origin, stem, m in markets
        ]
    if not names:
        raise InvalidInput("no candles: pass --data FILE (repeat for several pairs) or --symbols A,B with --source")
    if source == "csv":
        raise InvalidInput("--symbols needs a source that serves any pair (ccxt or synthetic); for files use --data")
    from crypto_mlops.data import load_market_data

    out = []
    for name in names:
        market = load_market_data(source, name, timeframe, limit=limit)
        out.append(PairData(market.symbol, market, f"{source or 'default source'}:{market.symbol}"))
    return out
