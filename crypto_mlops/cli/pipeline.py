"""CLI group 'pipeline': run the retraining pipeline without Airflow, bootstrap a first champion."""

from __future__ import annotations

import json
import logging
import os
import warnings

import typer
from rich.table import Table

from crypto_mlops.cli.common import console, err_console, friendly_errors, quiet_libraries

app = typer.Typer(help="Run the retraining pipeline (extract -> ... -> deploy) without Airflow.", no_args_is_help=True)


def _quiet_mlflow() -> None:
    """Keep the step lines readable: no artifact progress bars, no pyfunc serialization notices."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "mlflow.pyfunc", "mlflow.models", "mlflow.store.db.utils", "mlflow.tracking.fluent"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")
    warnings.filterwarnings("ignore", category=UserWarning, message=".*input example.*")


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


@app.command("run")
@friendly_errors
def run(
    symbols: list[str] | None = typer.Option(
        None,
        "--symbols",
        "-s",
        help="Pairs, comma-separated or repeated (default: PIPELINE_SYMBOLS or DEFAULT_SYMBOL).",
    ),
    source: str | None = typer.Option(None, "--source", help="ccxt | csv | synthetic (default: DATA_SOURCE)."),
    timeframe: str | None = typer.Option(None, "--timeframe", help="Candle timeframe (default: DEFAULT_TIMEFRAME)."),
    csv: list[str] | None = typer.Option(
        None, "--csv", help="SYMBOL=FILE for source csv (repeatable); else DATA_CSV_PATH / PIPELINE_CSV_DIR."
    ),
    run_id: str | None = typer.Option(None, "--run-id", help="Key of everything this run writes (default: new)."),
    reload_api: bool = typer.Option(True, "--reload/--no-reload", help="Ask the API to reload a new champion."),
    as_json: bool = typer.Option(False, "--json", help="Print the run summary as JSON on stdout."),
) -> None:
    """extract -> process -> validate -> train (if the rule says so) -> evaluate -> deploy -> notify."""
    from crypto_mlops.data.errors import InvalidInput
    from crypto_mlops.pipeline.runner import run_pipeline

    quiet_libraries()
    _quiet_mlflow()
    csv_paths: dict[str, str] = {}
    for item in csv or []:
        if "=" not in item:
            raise InvalidInput(f"--csv expects SYMBOL=FILE, got {item!r}")
        key, path = item.split("=", 1)
        csv_paths[key] = path
    summary = run_pipeline(
        symbols=_split(symbols),
        source=source,
        timeframe=timeframe,
        run_id=run_id,
        csv_paths=csv_paths or None,
        reload_api=reload_api,
        console=err_console,
    )
    if as_json:
        typer.echo(json.dumps(summary.model_dump(mode="json"), indent=2))
    if summary.status != "succeeded":
        err_console.print(f"[bold red]run {summary.run_id} failed at {summary.failed_step}:[/] {summary.reason}")
        raise typer.Exit(1)
    err_console.print(f"[bold green]run {summary.run_id} succeeded[/] in {summary.seconds:.1f} s")


@app.command("bootstrap")
@friendly_errors
def bootstrap(
    source: str | None = typer.Option(None, "--source", help="ccxt | csv | synthetic (default: DATA_SOURCE)."),
    quick: bool = typer.Option(
        False, "--quick", help="Fit only naive, EWMA and HAR; leave the other baselines to the next `pipeline run`."
    ),
) -> None:
    """Make sure the registry has a champion: fit the baselines quickly and register the best one."""
    from crypto_mlops.pipeline.bootstrap import ensure_champion

    quiet_libraries()
    _quiet_mlflow()
    result = ensure_champion(source=source, console=err_console, quick=quick)
    table = Table(show_header=False)
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)
    # One last line that says it all (the stack supervisor shows it in its table).
    console.print(
        f"champion v{result.get('champion_version')} ({result.get('model_type')}): {result['action']} "
        f"in {result['seconds']} s"
    )


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root app (called by cli.main)."""
    root.add_typer(app, name="pipeline")
