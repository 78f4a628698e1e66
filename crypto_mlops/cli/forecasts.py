"""`crypto-mlops forecasts export`: point-in-time RV24 forecasts for every candle, for external backtesters."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from crypto_mlops.cli.common import console, friendly_errors
from crypto_mlops.data.errors import InvalidInput

forecasts_app = typer.Typer(help="Forecasts for other tools (freqtrade backtests).", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(forecasts_app, name="forecasts")


@forecasts_app.command("export")
@friendly_errors
def export(
    data: Annotated[
        list[Path],
        typer.Option(
            "--data",
            help="Candle CSV, or a freqtrade candle file (BTC_USDT-1h.feather|parquet); repeat for several pairs.",
        ),
    ],
    start: Annotated[str, typer.Option("--from", help="First candle to export (UTC date or time).")],
    out: Annotated[Path, typer.Option("--out", help="Output file: .feather, .parquet or .csv.")],
    end: Annotated[
        str | None, typer.Option("--to", help="Last candle to export (UTC); default: the last candle.")
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="Pair of the CSV (e.g. BTC/USDT) when one --data is given; default from it.")
    ] = None,
    model: Annotated[str, typer.Option(help="Model of the catalog (har_x, har, ewma, ...).")] = "har_x",
    refit_every: Annotated[str, typer.Option(help="Refit interval (7d, 24h).")] = "7d",
    window: Annotated[str, typer.Option(help="Training window: expanding or rolling:<span>.")] = "expanding",
) -> None:
    """For every candle from --from to --to, the forecast as the system would have made it then.

    Each row: date (candle open, UTC), pair, predicted_rv_24h, q10/q50/q90, predicted_volatility
    (per hour), volatility_regime, model_name, model_version, fitted_until. Research only.
    """
    import pandas as pd

    from crypto_mlops.data.sources.csv_source import load_csv
    from crypto_mlops.models.export import ExportConfig, export_forecasts, read_freqtrade_candles, write_forecasts
    from crypto_mlops.models.walkforward import parse_span, parse_window

    if symbol and len(data) > 1:
        raise InvalidInput("--symbol names the pair of a single --data file")
    try:
        config = ExportConfig(
            start=pd.Timestamp(start),
            end=pd.Timestamp(end) if end else None,
            model=model,
            refit_every=parse_span(refit_every),
            window=parse_window(window),
        )
        tables = []
        for path in data:
            if path.suffix in (".feather", ".parquet"):
                frame, pair, timeframe = read_freqtrade_candles(path)
            else:
                market = load_csv(path, symbol)
                frame, pair, timeframe = market.frame, market.symbol, market.timeframe
            console.print(f"exporting {symbol or pair} {timeframe} ({model}, refit every {refit_every})")
            tables.append(export_forecasts(frame, timeframe, config, symbol or pair))
        table = pd.concat(tables, ignore_index=True)
        write_forecasts(table, out)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    console.print(f"{len(table)} rows → {out} ({table['date'].min()} → {table['date'].max()})")
    console.print("[dim]Research only — not trading advice.[/]")


@forecasts_app.command("candles")
@friendly_errors
def candles(
    data: Annotated[Path, typer.Option("--data", help="Candle CSV (any layout `backtest` reads).")],
    out: Annotated[
        Path, typer.Option("--out", help="freqtrade file, e.g. user_data/data/binance/BTC_USDT-1h.feather.")
    ],
    symbol: Annotated[str | None, typer.Option(help="Pair of the CSV; default from it.")] = None,
) -> None:
    """Convert a candle CSV to freqtrade's data layout (cleaned: deduplicated, bogus opens repaired)."""
    from crypto_mlops.data.sources.csv_source import load_csv
    from crypto_mlops.models.export import write_freqtrade_candles

    if out.suffix not in (".feather", ".parquet"):
        raise InvalidInput(f"--out must end in .feather or .parquet, got {out.name!r}")
    market = load_csv(data, symbol)
    write_freqtrade_candles(market.frame, out)
    console.print(f"{market.symbol}: {len(market.frame)} candles → {out}")
