"""`.stack/state.json`: what a running `stack up` tells `stack health|logs|urls|down` in other shells.

JSON records (typed here as TypedDicts, so the file and `stack health --json` share one shape);
`state` holds a `ComponentState` value and `health` a `HealthSpec.to_dict()`.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, TypedDict

import psutil

STATE_FILE = "state.json"


class ComponentRecord(TypedDict, total=False):
    name: str
    role: str
    url: str | None
    health: dict[str, Any] | None
    required: bool
    job: bool
    state: str
    detail: str
    pid: int | None
    seconds: float | None
    restarts: int
    last_exit: str | None
    log: str
    # added by `stack health` when it probes the component now
    ok: bool
    probe: str
    latency_ms: float


class StackState(TypedDict, total=False):
    supervisor_pid: int
    full: bool
    started_at: float
    healthy_after_s: float | None
    notes: list[str]
    logs: str
    components: list[ComponentRecord]


def state_path(home: Path) -> Path:
    return home / STATE_FILE


def write_state(home: Path, state: StackState) -> None:
    """Replace the state file atomically (readers never see half a file)."""
    home.mkdir(parents=True, exist_ok=True)
    path = state_path(home)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    tmp.replace(path)


def read_state(home: Path) -> StackState | None:
    """The running stack's state, None when there is none (or the file is unreadable)."""
    try:
        state: StackState = json.loads(state_path(home).read_text())
    except (OSError, ValueError):
        return None
    return state


def remove_state(home: Path) -> None:
    with contextlib.suppress(OSError):
        state_path(home).unlink()


def running_supervisor(home: Path) -> int | None:
    """The PID of another live `stack up` recorded under `home`, else None."""
    existing = read_state(home)
    pid = existing.get("supervisor_pid") if existing else None
    return pid if pid and pid != os.getpid() and psutil.pid_exists(pid) else None
