"""Leave no process behind: stop whole process families, and `stack down` from another shell."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from crypto_mlops.stack.statefile import read_state, remove_state


def process_family(pid: int | None) -> set[int]:
    """`pid` and all its descendants (empty when it is gone)."""
    if pid is None:
        return set()
    try:
        return {pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))}
    except psutil.Error:
        return set()


def kill_leftovers(pids: Iterable[int], timeout: float = 5.0) -> list[int]:
    """TERM, then KILL, whatever of `pids` is still alive; returns the PIDs that had to be killed."""
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                procs.append(proc)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return [p.pid for p in procs]


def _wait_for_exit(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while psutil.pid_exists(pid) and time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        time.sleep(0.2)


def stop_running_stack(home: Path, timeout: float = 90.0) -> tuple[bool, list[int]]:
    """`stack down`: ask the supervisor to stop (SIGTERM), then kill what is left of its children.

    Returns (a stack was recorded, PIDs that had to be killed).
    """
    state = read_state(home)
    if state is None:
        return False, []
    pid = int(state.get("supervisor_pid") or -1)
    child_pids = {int(child) for c in state.get("components", []) if (child := c.get("pid"))}
    if psutil.pid_exists(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        _wait_for_exit(pid, timeout)
    leftovers: set[int] = set()
    for child in child_pids:
        leftovers |= process_family(child)
    for child in leftovers:
        # Each child leads its own process group (its own session): end the group, not just the leader.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGTERM)
    killed = kill_leftovers(leftovers)
    remove_state(home)
    return True, killed
