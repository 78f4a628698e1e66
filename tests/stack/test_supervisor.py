"""Supervisor mechanics on tiny child processes: failed children are reported, nothing survives a stop."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from rich.console import Console

from crypto_mlops.config import StackSettings
from crypto_mlops.stack.child import ChildProcess
from crypto_mlops.stack.component import Component, ComponentSpec, ComponentState
from crypto_mlops.stack.health import HealthSpec
from crypto_mlops.stack.statefile import read_state
from crypto_mlops.stack.status import probe
from crypto_mlops.stack.supervisor import StackSupervisor
from crypto_mlops.stack.table import status_table
from tests.stack.helpers import SLEEPER


def _supervisor(tmp_path: Path) -> StackSupervisor:
    settings = StackSettings(home=tmp_path / ".stack", start_timeout_s=20)
    sup = StackSupervisor(stack_settings=settings, console=Console(file=io.StringIO()), root=tmp_path)
    sup.logs.mkdir(parents=True)
    return sup


def test_failed_child_is_reported_and_stop_leaves_no_process(tmp_path: Path) -> None:
    sup = _supervisor(tmp_path)
    env = {"PATH": "/usr/bin:/bin"}
    good = ChildProcess("worker", SLEEPER, env, sup.logs / "worker.log")
    bad = ChildProcess(
        "broken",
        [sys.executable, "-c", "raise SystemExit('no such command: serve grpc')"],
        env,
        sup.logs / "broken.log",
        start_timeout=10,
    )
    sup.components = {
        "worker": Component(ComponentSpec("worker", "sleeps", health=HealthSpec.process()), service=good),
        "broken": Component(ComponentSpec("broken", "exits at once", health=HealthSpec.process()), service=bad),
        "after-broken": Component(
            ComponentSpec("after-broken", "depends on broken", depends_on=("broken",)), service=bad
        ),
    }
    sup.start_all()
    states = {c.name: c for c in sup.components.values()}
    assert states["worker"].state == "healthy" and states["worker"].health.pid == good.pid
    assert states["broken"].state == "failed" and "no such command: serve grpc" in states["broken"].detail
    assert states["after-broken"].state == "failed" and "broken failed" in states["after-broken"].detail
    assert not sup.all_healthy()

    state = read_state(sup.home)
    assert state is not None and {c["name"] for c in state["components"]} == set(states)
    table = status_table(state, probe(state["components"]))
    text = Console(width=200, record=True)
    text.print(table)
    assert "no such command" in text.export_text()

    family = [good.pid, *(p.pid for p in psutil.Process(good.pid).children(recursive=True))]
    assert len(family) == 2
    sup.stop_all()
    time.sleep(0.2)
    assert not [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def test_stop_leaves_processes_it_does_not_own(tmp_path: Path) -> None:
    """Only the components' process families are stopped (not, say, a test session's servers)."""
    sup = _supervisor(tmp_path)
    bystander = subprocess.Popen(SLEEPER, start_new_session=True)
    worker = ChildProcess("worker", SLEEPER, {"PATH": "/usr/bin:/bin"}, sup.logs / "worker.log")
    sup.components = {"worker": Component(ComponentSpec("worker", "sleeps"), service=worker)}
    try:
        sup.start_all()
        assert sup.components["worker"].state == ComponentState.HEALTHY
        sup.stop_all()
        assert sup.components["worker"].state == ComponentState.STOPPED
        assert bystander.poll() is None
    finally:
        os.killpg(bystander.pid, signal.SIGKILL)  # its own session: the sleeper and its child
        bystander.wait()
