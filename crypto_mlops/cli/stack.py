"""CLI group 'stack' (filled by its owner)."""

import typer

app = typer.Typer(help="Start, inspect and stop the local stack (what 'make up' runs).", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root app (called by cli.main)."""
    root.add_typer(app, name="stack")
