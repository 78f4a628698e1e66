"""CLI group 'backtest' (filled by its owner)."""

import typer

app = typer.Typer(help="Out-of-sample backtest of every volatility model on a CSV file.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root app (called by cli.main)."""
    root.add_typer(app, name="backtest")
