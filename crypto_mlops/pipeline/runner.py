"""Run every step in order without Airflow (what `crypto-mlops pipeline run` calls).

The steps are the same functions the Airflow DAG maps; the runner only adds progress output and
turns a failing step into a `RunSummary` with the step's name and a readable reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import CryptoMLOpsError
from crypto_mlops.pipeline import ingest, modelling
from crypto_mlops.pipeline.errors import PipelineFailed, ValidationFailed
from crypto_mlops.pipeline.manifests import NotifyOutcome, RunSummary, StepOutcome, SymbolManifest
from crypto_mlops.pipeline.notify import notify
from crypto_mlops.pipeline.store import open_store

T = TypeVar("T")


class _StepFailed(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(reason)
        self.step, self.reason = step, reason


def _symbol_line(m: SymbolManifest) -> str:
    if not m.new_rows:
        return f"{m.symbol}: {'; '.join(m.notes[-1:]) or 'no new candles'}"
    text = f"{m.symbol}: {m.new_rows:,} new candles {m.first_new} → {m.last_new} ({m.data_source or m.source})"
    if m.committed:
        text += f", committed; history {m.history_rows:,} bars ({m.filled_bars} filled)"
    return text


def run_pipeline(
    symbols: list[str] | None = None,
    source: str | None = None,
    timeframe: str | None = None,
    run_id: str | None = None,
    csv_paths: dict[str, str] | None = None,
    reload_api: bool = True,
    console: Console | None = None,
    settings: Settings | None = None,
) -> RunSummary:
    """extract -> process -> validate (per symbol) -> train -> evaluate -> deploy -> notify."""
    settings = settings or get_settings()
    console = console or Console(stderr=True)
    started = time.monotonic()
    context = ingest.plan_run(run_id, symbols, source, timeframe, csv_paths, settings)
    store = open_store(settings)
    summary = RunSummary(run_id=context.run_id, status="running")
    console.print(
        f"[bold]pipeline run {context.run_id}[/]: {', '.join(context.symbols)} "
        f"{context.timeframe} from {context.source}"
    )

    total = 3 * len(context.symbols) + 4
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        bar = progress.add_task("starting", total=total)

        def step(name: str, call: Callable[[], T], label: str = "") -> T:
            progress.update(bar, description=f"{name} {label}".strip())
            try:
                result = call()
            except PipelineFailed as exc:
                raise _StepFailed(exc.step, exc.reason) from exc
            except CryptoMLOpsError as exc:
                raise _StepFailed(name, f"{label + ': ' if label else ''}{exc}") from exc
            progress.advance(bar)
            return result

        try:
            failures: list[str] = []
            for symbol in context.symbols:
                manifest = step("extract", partial(ingest.extract, context, symbol, store, settings), symbol)
                manifest = step("process", partial(ingest.process, manifest, store, settings), symbol)
                try:
                    manifest = ingest.validate(manifest, store, settings)
                except ValidationFailed as exc:
                    failures.append(exc.reason)
                    manifest.passed, manifest.problems = False, [exc.reason]
                    console.print(f"[red]✗ validate[/] {exc.reason}")
                progress.advance(bar)
                summary.symbols.append(manifest)
                if manifest.passed:
                    console.print(f"[green]✓[/] {_symbol_line(manifest)}")
            if failures:
                raise _StepFailed("validate", " | ".join(failures) + " — nothing committed, champion unchanged")
            trained = step(
                "train",
                partial(
                    modelling.train,
                    context,
                    summary.symbols,
                    store,
                    settings,
                    on_step=lambda message: progress.update(bar, description=f"train: {message}"),
                ),
            )
            summary.train = trained
            _print_outcome(console, trained)
            evaluated = step("evaluate", partial(modelling.evaluate, trained, store, settings))
            summary.evaluate = evaluated
            _print_outcome(console, evaluated)
            deployed = step("deploy", partial(modelling.deploy, evaluated, store, settings))
            summary.deploy = deployed
            _print_outcome(console, deployed)
            if reload_api:
                notified = step("notify", partial(notify, deployed, store, settings))
            else:
                notified = NotifyOutcome(run_id=context.run_id, done=False, reason="reload disabled (--no-reload)")
            _print_outcome(console, notified)
            summary.notify = notified
            summary.status = "succeeded"
        except _StepFailed as exc:
            summary.status, summary.failed_step, summary.reason = "failed", exc.step, exc.reason
    summary.seconds = round(time.monotonic() - started, 2)
    return summary


def _print_outcome(console: Console, outcome: StepOutcome | None) -> None:
    if outcome is None:
        return
    mark = "[green]✓[/]" if outcome.done else "[yellow]–[/]"
    if outcome.reason.startswith("warning"):
        mark = "[yellow]![/]"
    console.print(f"{mark} {outcome.step}: {outcome.reason}")
