"""CLI group 'stack': what `make up`, `make check-health`, `make logs`, `make down` and
`make dashboard-urls` run."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from crypto_mlops.cli.common import console as _console
from crypto_mlops.cli.common import err_console

if TYPE_CHECKING:
    from crypto_mlops.stack.statefile import ComponentRecord, StackState

# Tables are wide: when writing to a file or pipe (logs, `make` output) do not wrap them at 80 columns.
console = _console if _console.is_terminal else Console(width=150)

app = typer.Typer(help="Start, inspect and stop the local stack (what 'make up' runs).", no_args_is_help=True)


def _home() -> Path:
    from crypto_mlops.config import StackSettings

    return StackSettings().home.absolute()


def _components() -> tuple[StackState | None, list[ComponentRecord]]:
    from crypto_mlops.config import get_settings
    from crypto_mlops.stack.status import current_components

    return current_components(_home(), get_settings())


@app.command("up")
def up(
    full: bool = typer.Option(False, "--full", help="Also PostgreSQL, SeaweedFS S3, MLflow on PG+S3, Airflow."),
) -> None:
    """Start the stack in the foreground; Ctrl-C (or `stack down` from another shell) stops every child."""
    # The supervisor runs as long as the stack: it becomes the lean `python -m crypto_mlops.stack` (same
    # pid), so that the command line's imports (pandas, the service layer) do not stay in its memory.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "crypto_mlops.stack", "up", *(["--full"] if full else [])])


@app.command("health")
def health_cmd(as_json: bool = typer.Option(False, "--json", help="JSON instead of a table.")) -> None:
    """Probe every component now; exit code 0 only when every required one is healthy."""
    from crypto_mlops.stack.status import probe
    from crypto_mlops.stack.table import status_table

    state, components = _components()
    results = probe(components)
    healthy = all(r["ok"] for r in results if r.get("required", True))
    if as_json:
        typer.echo(
            json.dumps(
                {"healthy": healthy, "supervisor_running": bool(state), "components": results},
                indent=2,
                default=str,
            )
        )
    else:
        if not state:
            err_console.print("[yellow]no stack state (.stack/state.json): probing the default embedded ports[/]")
        console.print(status_table(state, results))
        console.print("[bold green]all healthy[/]" if healthy else "[bold red]not all healthy[/]")
    raise typer.Exit(0 if healthy else 1)


@app.command("logs")
def logs(
    name: str | None = typer.Argument(
        None, help="Component (api, graphql, grpc, mlflow, broker, ...); all if omitted."
    ),
    lines: int = typer.Option(40, "--lines", "-n", help="Lines from the end of each log."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines (Ctrl-C to stop)."),
) -> None:
    """Show the tail of the stack's logs (.stack/logs/NAME.log)."""
    folder = _home() / "logs"
    files = sorted(folder.glob("*.log")) if folder.is_dir() else []
    if name:
        files = [f for f in files if f.stem == name]
        if not files:
            known = ", ".join(f.stem for f in sorted(folder.glob("*.log"))) if folder.is_dir() else "none"
            err_console.print(f"[red]no log named {name!r}[/] (known: {known})")
            raise typer.Exit(2)
    if not files:
        err_console.print(f"no logs under {folder} (start the stack with `crypto-mlops stack up`)")
        raise typer.Exit(1)
    offsets: dict[Path, int] = {}
    for path in files:
        text = path.read_text(errors="replace").splitlines()
        console.rule(f"{path.stem}  ({path})")
        for line in text[-lines:]:
            console.print(line, markup=False, highlight=False)
        offsets[path] = path.stat().st_size
    while follow:
        time.sleep(1.0)
        for path in files:
            size = path.stat().st_size if path.exists() else 0
            if size > offsets[path]:
                with path.open("rb") as handle:
                    handle.seek(offsets[path])
                    for line in handle.read().decode(errors="replace").splitlines():
                        console.print(f"[dim]{path.stem}[/] {line}", highlight=False)
                offsets[path] = size


@app.command("down")
def down() -> None:
    """Stop a stack started from another shell (via .stack/state.json); no child is left behind."""
    from crypto_mlops.stack.shutdown import stop_running_stack

    found, killed = stop_running_stack(_home())
    if not found:
        console.print("no running stack (no .stack/state.json)")
        return
    if killed:
        console.print(f"[yellow]stopped; had to kill leftover processes {killed}[/]")
    else:
        console.print("[green]stack stopped[/]")


@app.command("urls")
def urls() -> None:
    """Print the URL of every UI and endpoint."""
    state, components = _components()
    table = Table(title="crypto-mlops endpoints")
    table.add_column("component")
    table.add_column("url")
    table.add_column("what")
    for c in components:
        if c.get("url"):
            table.add_row(c.get("name", "?"), c.get("url") or "", c.get("role", ""))
    api_url = next((c.get("url") for c in components if c.get("name") == "api"), None)
    if api_url:
        base = api_url.rstrip("/")
        for path, what in (
            ("/docs", "OpenAPI docs"),
            ("/graphql", "GraphQL on the API"),
            ("/metrics", "metrics (JSON)"),
            ("/metrics/prometheus", "Prometheus metrics"),
        ):
            table.add_row("api", base + path, what)
    console.print(table)
    if not state:
        err_console.print("[dim](no running stack: default embedded ports shown)[/]")


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root app (called by cli.main)."""
    root.add_typer(app, name="stack")
