"""Root of the `crypto-mlops` command line. Each command group lives in its own module."""

from __future__ import annotations

import typer

from crypto_mlops.cli import backtest, data, forecasts, model, pipeline, serve, signal, stack, stream

app = typer.Typer(
    name="crypto-mlops",
    help="Risk and volatility signals for crypto pairs. Research only: not trading advice.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _module in (data, signal, backtest, forecasts, model, stream, pipeline, stack, serve):
    _module.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
