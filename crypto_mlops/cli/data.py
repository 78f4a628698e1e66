"""`crypto-mlops data fetch|load|validate`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from crypto_mlops.cli.common import console, counting_progress, friendly_errors
from crypto_mlops.data import InvalidInput, MarketData, load_market_data
from crypto_mlops.data.quality import QualityReport
from crypto_mlops.data.schema import symbol_slug

app = typer.Typer(help="Market data: fetch from an exchange, load CSV/synthetic, validate.", no_args_is_help=True)

SourceOpt = Annotated[str, typer.Option("--source", help="ccxt | csv | synthetic")]
SymbolOpt = Annotated[str, typer.Option("--symbol", help="Pair, e.g. BTC/USDT or BTCUSDT.")]
TimeframeOpt = Annotated[str, typer.Option("--timeframe", help="Candle timeframe, e.g. 1h, 15m, 1d.")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="CSV file (with --source csv).")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write the candles as Parquet here.")]


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")


def quality_table(report: QualityReport) -> Table:
    table = Table(title="Data quality", show_header=False)
    rows = [
        ("rows read", report.rows_in),
        ("unique candles", report.rows),
        ("range", f"{report.start} → {report.end}"),
        ("duplicates removed", report.duplicates_removed),
        ("duplicate conflicts", report.duplicate_conflicts),
        ("missing candles", f"{report.missing_bars} in {len(report.gaps)} gaps"),
        ("bogus opens repaired", len(report.bogus_opens_repaired)),
        ("OHLC inconsistent", report.ohlc_inconsistent),
        ("non-positive prices", report.non_positive_prices),
        ("zero volume", report.zero_volume),
        ("extreme returns", report.extreme_returns),
        ("verdict", "[green]passed[/]" if report.passed else "[red]failed: " + "; ".join(report.problems) + "[/]"),
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    return table


def _summary(data: MarketData, out: Path | None, as_json: bool) -> None:
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        data.frame.to_parquet(out)
    if as_json:
        typer.echo(data.quality.to_json() if data.quality else "{}")
        return
    console.print(
        f"[bold]{data.symbol}[/] {data.timeframe} from [cyan]{data.source}[/]: {len(data.frame)} candles, "
        f"{data.frame.index[0]} → {data.frame.index[-1]}"
    )
    if data.quality:
        console.print(quality_table(data.quality))
    if out is not None:
        console.print(f"written to {out}")


@app.command("fetch")
@friendly_errors
def fetch(
    symbol: SymbolOpt = "BTC/USDT",
    timeframe: TimeframeOpt = "1h",
    days: Annotated[float, typer.Option(help="How many days of history to fetch.")] = 30.0,
    since: Annotated[str | None, typer.Option(help="Start (ISO date); overrides --days.")] = None,
    exchange: Annotated[str | None, typer.Option(help="ccxt exchange id (default from EXCHANGE).")] = None,
    out: OutOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the quality report as JSON.")] = False,
) -> None:
    """Fetch candles from an exchange through ccxt (paginated, rate-limited, with retries)."""
    from crypto_mlops.config import get_settings
    from crypto_mlops.data.schema import timeframe_delta
    from crypto_mlops.data.sources.ccxt_source import fetch_ohlcv

    settings = get_settings()
    step = timeframe_delta(timeframe)
    try:
        start = pd.Timestamp(since, tz="UTC") if since else pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=days)
    except ValueError as exc:
        raise InvalidInput(f"invalid --since {since!r}: {exc}") from exc
    total = max(1, int((pd.Timestamp.now(tz="UTC") - start) / step))
    with counting_progress(console) as progress:
        task = progress.add_task(f"fetching {symbol} {timeframe}", total=total)
        data = fetch_ohlcv(
            symbol,
            timeframe,
            since=start,
            limit=total,
            exchange=exchange or settings.exchange,
            retries=settings.exchange_max_retries,
            timeout_s=settings.exchange_timeout_s,
            progress=lambda n: progress.advance(task, n),
        )
    _summary(data, out or Path(settings.data_dir) / f"{symbol_slug(symbol)}_{timeframe}.parquet", as_json)


@app.command("load")
@friendly_errors
def load(
    source: SourceOpt = "csv",
    data: DataOpt = None,
    symbol: SymbolOpt = "BTC/USDT",
    timeframe: TimeframeOpt = "1h",
    limit: Annotated[int | None, typer.Option(help="Keep only the newest N candles.")] = None,
    out: OutOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the quality report as JSON.")] = False,
) -> None:
    """Load candles from a CSV file or the synthetic simulator and show what was found."""
    market = load_market_data(source, symbol, timeframe, limit=limit, csv_path=data)
    _summary(market, out, as_json)


@app.command("validate")
@friendly_errors
def validate_command(
    data: Annotated[Path, typer.Argument(help="CSV file to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Validate a candle CSV; exits 1 when the data fails the quality checks."""
    from crypto_mlops.data.sources.csv_source import load_csv

    market = load_csv(data)
    _summary(market, None, as_json)
    if market.quality and not market.quality.passed:
        raise typer.Exit(1)
