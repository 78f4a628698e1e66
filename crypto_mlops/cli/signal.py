"""`crypto-mlops signal`: the heuristic signal for the last candle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from crypto_mlops.cli.common import console, friendly_errors
from crypto_mlops.data import load_market_data
from crypto_mlops.signals import heuristic_signal

LEVEL_COLOURS = {"low": "green", "medium": "yellow", "high": "red"}


def register(root: typer.Typer) -> None:
    root.command("signal")(signal)


@friendly_errors
def signal(
    symbol: Annotated[str, typer.Option(help="Pair, e.g. BTCUSDT or BTC/USDT.")] = "BTC/USDT",
    source: Annotated[str | None, typer.Option(help="ccxt | csv | synthetic (default from DATA_SOURCE).")] = None,
    data: Annotated[Path | None, typer.Option(help="CSV file (with --source csv).")] = None,
    timeframe: Annotated[str, typer.Option(help="Candle timeframe.")] = "1h",
    limit: Annotated[int, typer.Option(help="Candles to use.", min=10, max=5000)] = 200,
    explain: Annotated[bool, typer.Option(help="Show the inputs and the last feature rows.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Heuristic risk signal (risk rises with volatility and downtrend) for the last closed candle."""
    market = load_market_data(source, symbol, timeframe, limit=limit, csv_path=data)
    result = heuristic_signal(market.frame, market.bar_hours, explain=explain)
    payload = {"symbol": market.symbol, "timeframe": market.timeframe, "source": market.source, **result.model_dump()}
    if as_json:
        typer.echo(json.dumps(payload, indent=2))
        return
    colour = LEVEL_COLOURS[result.risk_level]
    console.print(
        f"[bold]{market.symbol}[/] {market.timeframe} · candle {result.timestamp} · source [cyan]{market.source}[/]"
    )
    console.print(
        f"risk [bold {colour}]{result.risk_score:.4f} ({result.risk_level})[/] · vol/h {result.vol:.5f} "
        f"({result.vol_regime}) · momentum {'up' if result.momentum else 'down'} · "
        f"last return {result.nowcast_ret:+.4%}"
    )
    if explain and result.explain:
        console.print(
            f"risk = 0.6·tanh(50·{result.vol:.5f}) + 0.4·(1 − {result.momentum}) = "
            f"{result.explain['volatility_term']:.4f} + {result.explain['trend_term']:.4f}"
        )
        table = Table(title="last candles")
        for column in ("time", "close", "ret", "vol24", "sma12", "sma48"):
            table.add_column(column)
        for row in result.explain["features_tail"]:
            table.add_row(
                row["time"],
                f"{row['close']:.2f}",
                f"{row['ret']:+.5f}",
                f"{row['vol24']:.5f}",
                f"{row['sma12']:.2f}",
                f"{row['sma48']:.2f}",
            )
        console.print(table)
    console.print("[dim]Research only — not trading advice.[/]")
