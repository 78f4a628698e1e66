"""The one status table (rich) shown by `stack up` and `stack health`."""

from __future__ import annotations

from collections.abc import Mapping

from rich.table import Table

from crypto_mlops.stack.component import ComponentState
from crypto_mlops.stack.statefile import ComponentRecord, StackState

_COLOURS: Mapping[str, str] = {
    ComponentState.HEALTHY: "green",
    ComponentState.RUNNING: "cyan",
    ComponentState.DONE: "green",
    ComponentState.FAILED: "red",
    ComponentState.STARTING: "yellow",
    ComponentState.PENDING: "yellow",
    ComponentState.STOPPED: "dim",
    ComponentState.UNHEALTHY: "red",
    ComponentState.RESTARTING: "yellow",
}


def _row(c: ComponentRecord) -> tuple[str, ...]:
    state = c.get("state", "")
    if "ok" in c and not c.get("job"):
        down = state in (ComponentState.FAILED, ComponentState.RESTARTING, ComponentState.STOPPED)
        state = ComponentState.HEALTHY if c["ok"] else state if down else ComponentState.UNHEALTHY
    detail = c["probe"] if "probe" in c else c.get("detail", "")
    if c.get("restarts") and "restart" not in str(detail):
        detail = f"{detail}; restarted {c['restarts']}×, last: {c.get('last_exit')}"
    if c.get("job") and not c.get("required"):
        detail = f"(background) {detail}"
    seconds = c.get("seconds")
    return (
        c.get("name", "?"),
        f"[{_COLOURS.get(state, 'white')}]{state}[/]",
        c.get("url") or "",
        str(c.get("pid") or ""),
        f"{seconds} s" if seconds is not None else "",
        str(detail or ""),
    )


def status_table(state: StackState | None, probe_now: list[ComponentRecord] | None = None) -> Table:
    """Component, state, URL, PID, start time and detail; `probe_now` (stack health) wins over the
    states the supervisor recorded."""
    state = state or {}
    components = probe_now if probe_now is not None else state.get("components", [])
    table = Table(title="crypto-mlops stack" + (" (full)" if state.get("full") else ""), show_lines=False)
    for column in ("component", "state", "url", "pid", "ready in", "detail"):
        table.add_column(column, overflow="fold")
    for component in components:
        table.add_row(*_row(component))
    return table


def started_message(healthy_after: float | None) -> str:
    """The line `stack up` prints under the table once every component has settled."""
    if healthy_after is not None:
        return (
            f"[bold green]all components healthy after {healthy_after} s[/] — "
            "Ctrl-C (or `crypto-mlops stack down`) stops everything; crashed servers are restarted"
        )
    return (
        "[bold yellow]some components failed[/] (see the table and `crypto-mlops stack "
        "logs NAME`); the others keep running — Ctrl-C stops everything"
    )
