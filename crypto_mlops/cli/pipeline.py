"""CLI group 'pipeline' (filled by its owner)."""

import typer

app = typer.Typer(help="Run the retraining pipeline (extract -> ... -> deploy) without Airflow.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root app (called by cli.main)."""
    root.add_typer(app, name="pipeline")
