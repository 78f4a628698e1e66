"""Restart policy on tiny child processes: backoff, restart count, crash loop -> FAILED, no orphans."""

from __future__ import annotations

import io
import os
import signal
import sys
import time
from pathlib import Path

import psutil
from rich.console import Console

from crypto_mlops.config import StackSettings
from crypto_mlops.stack.child import ChildProcess
from crypto_mlops.stack.component import Component, ComponentSpec, ComponentState
from crypto_mlops.stack.health import HealthSpec
from crypto_mlops.stack.restart import RestartPolicy
from crypto_mlops.stack.statefile import ComponentRecord, read_state
from crypto_mlops.stack.status import probe
from crypto_mlops.stack.supervisor import StackSupervisor
from tests.stack.helpers import SLEEPER

FAST = RestartPolicy(max_restarts=2, backoff_s=0.2, max_backoff_s=1.0, stable_s=60.0)


def _supervisor(tmp_path: Path, policy: RestartPolicy = FAST) -> StackSupervisor:
    settings = StackSettings(home=tmp_path / ".stack", start_timeout_s=20)
    sup = StackSupervisor(stack_settings=settings, console=Console(file=io.StringIO()), root=tmp_path, policy=policy)
    sup.logs.mkdir(parents=True)
    return sup


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _watch_until(sup: StackSupervisor, done: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sup.watch_once()
        if callable(done) and done():
            return True
        time.sleep(0.05)
    return False


def _record(sup: StackSupervisor, name: str) -> ComponentRecord:
    state = read_state(sup.home)
    assert state is not None
    return next(c for c in state.get("components", []) if c["name"] == name)


def test_policy_backoff_doubles_up_to_its_cap() -> None:
    policy = RestartPolicy(backoff_s=1.0, max_backoff_s=5.0)
    assert [policy.delay(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_a_killed_worker_is_restarted_and_its_orphan_is_ended(tmp_path: Path) -> None:
    sup = _supervisor(tmp_path)
    worker = ChildProcess("worker", SLEEPER, {"PATH": "/usr/bin:/bin"}, sup.logs / "worker.log")
    sup.components = {
        "worker": Component(ComponentSpec("worker", "sleeps", health=HealthSpec.process()), service=worker)
    }
    try:
        sup.start_all()
        component = sup.components["worker"]
        assert component.state == ComponentState.HEALTHY
        sup.watch_once()  # learns the family: parent + its child
        first = worker.pid
        assert first is not None
        orphan = next(p.pid for p in psutil.Process(first).children())
        os.kill(first, signal.SIGKILL)
        assert _watch_until(sup, lambda: component.state == ComponentState.RESTARTING, 5)
        assert not _alive(orphan)  # the child of the killed parent does not survive it
        # What another shell sees: the state file turns healthy together with the new restart count.
        assert _watch_until(sup, lambda: _record(sup, "worker")["state"] == "healthy", 15)
        assert worker.pid not in (None, first)
        assert component.restarts == 1 and "SIGKILL" in (component.last_exit or "")
        record = _record(sup, "worker")
        assert record["restarts"] == 1 and "SIGKILL" in (record["last_exit"] or "")
        assert record["health"]["pid"] == worker.pid
        assert "supervisor: worker restarted" in (sup.logs / "worker.log").read_text()
    finally:
        sup.stop_all()


def test_a_crash_loop_ends_in_failed_after_the_limit(tmp_path: Path) -> None:
    sup = _supervisor(tmp_path)
    # Up long enough to pass its readiness check (ChildProcess: 3 s grace), then dies.
    crasher = ChildProcess(
        "crasher",
        [sys.executable, "-c", "import time; time.sleep(3.3); raise SystemExit('boom')"],
        {"PATH": "/usr/bin:/bin"},
        sup.logs / "crasher.log",
        start_timeout=10,
    )
    spec = ComponentSpec("crasher", "dies", health=HealthSpec.process())
    sup.components = {"crasher": Component(spec, service=crasher)}
    component = sup.components["crasher"]
    try:
        sup.start_all()
        assert _watch_until(sup, lambda: component.state == ComponentState.FAILED, 40)
    finally:
        sup.stop_all()
    assert component.restarts <= FAST.max_restarts and "crash loop" in component.detail
    record = _record(sup, "crasher")
    assert record["state"] == "failed" and "crash loop" in record["detail"]


def test_health_agrees_with_the_recorded_state() -> None:
    """A check that passes (an orphan answering the port) does not turn a failed record healthy."""
    records = [
        {"name": "a", "state": "failed", "detail": "crash loop", "health": {"type": "process", "pid": os.getpid()}},
        {"name": "b", "state": "healthy", "pid": 2**22 + 3, "health": {"type": "process", "pid": os.getpid()}},
        {"name": "c", "state": "healthy", "pid": os.getpid(), "health": {"type": "process", "pid": os.getpid()}},
    ]
    out = {r["name"]: r for r in probe(records)}  # type: ignore[arg-type]
    assert not out["a"]["ok"] and "failed" in out["a"]["probe"] and "leftover" in out["a"]["probe"]
    assert not out["b"]["ok"] and "not running" in out["b"]["probe"]
    assert out["c"]["ok"]


def test_without_a_running_stack_the_probe_alone_decides() -> None:
    from crypto_mlops.config import Settings
    from crypto_mlops.stack.status import default_components

    records = default_components(Settings())
    assert records and all("state" not in r for r in records)
