"""CLI group 'stream' (filled by its owner)."""

import typer

app = typer.Typer(help="Kafka streaming: produce price ticks, consume and predict, manage topics.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root app (called by cli.main)."""
    root.add_typer(app, name="stream")
