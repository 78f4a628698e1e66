"""Root of the `crypto-mlops` command line. Each command group lives in its own module."""

from __future__ import annotations

import sys

import typer
from pydantic import ValidationError

from crypto_mlops.cli import backtest, data, forecasts, model, pipeline, serve, signal, stack, stream
from crypto_mlops.cli.common import refuse_bad_settings
from crypto_mlops.config import get_settings

app = typer.Typer(
    name="crypto-mlops",
    help="Risk and volatility signals for crypto pairs. Research only: not trading advice.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def check_settings() -> None:
    """Read the settings once before any command, so a refused value is one line, not a traceback."""
    if any(arg in ("--help", "-h") for arg in sys.argv[1:]):
        return
    try:
        get_settings()
    except ValidationError as exc:
        raise refuse_bad_settings(exc) from None


for _module in (data, signal, backtest, forecasts, model, stream, pipeline, stack, serve):
    _module.register(app)


if __name__ == "__main__":  # pragma: no cover
    app()
