"""Restart policy of the stack: a server whose process ends is restarted with exponential backoff.

A crash (the process ended while the component was healthy) first ends what is left of the
component's process family (its process group plus the descendants last seen, so a killed MLflow
parent leaves no uvicorn worker serving its port), then schedules a restart after
`backoff_s * 2**(streak-1)` seconds (capped at `max_backoff_s`). A component that crashes more than
`max_restarts` times without staying up `stable_s` in between is in a crash loop: it is FAILED and
left alone. Jobs are never restarted.

The policy comes from the stack settings: STACK_MAX_RESTARTS, STACK_RESTART_BACKOFF_S,
STACK_RESTART_MAX_BACKOFF_S and STACK_RESTART_STABLE_S.
"""

from __future__ import annotations

import contextlib
import signal
import time
from dataclasses import dataclass

from crypto_mlops.config import StackSettings
from crypto_mlops.stack.component import Component, ComponentState
from crypto_mlops.stack.process import last_log_line
from crypto_mlops.stack.shutdown import kill_leftovers, process_family


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 30.0
    #: Up this long after a (re)start: the next crash starts a new streak.
    stable_s: float = 60.0

    @classmethod
    def from_settings(cls, stack: StackSettings) -> RestartPolicy:
        return cls(
            max_restarts=stack.max_restarts,
            backoff_s=stack.restart_backoff_s,
            max_backoff_s=stack.restart_max_backoff_s,
            stable_s=stack.restart_stable_s,
        )

    def delay(self, streak: int) -> float:
        """Seconds to wait before restart number `streak` (1, 2, ...) of a streak."""
        return min(self.max_backoff_s, self.backoff_s * 2 ** max(0, streak - 1))


def exit_text(returncode: int | None) -> str:
    """'exit code 1' or 'killed by SIGKILL', with the wall-clock time."""
    when = time.strftime("%H:%M:%S")
    if returncode is None:
        return f"ended at {when}"
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name} at {when}"
    return f"exit code {returncode} at {when}"


def remember_family(component: Component) -> None:
    """Record the running component's descendants (called on every watch round)."""
    if component.pid is not None:
        component.family = process_family(component.pid)


def end_family(component: Component) -> list[int]:
    """Stop whatever is left of a crashed component (process group and known descendants)."""
    leftovers = set(component.family)
    if component.service is not None:
        with contextlib.suppress(Exception):
            component.service.stop(timeout=5.0)  # reaps the dead parent, TERM/KILLs its process group
    component.family = set()
    return kill_leftovers(leftovers, timeout=3.0) if leftovers else []


def note_in_log(component: Component, line: str) -> None:
    """Append a supervisor line to the component's own log (what `stack logs NAME` shows)."""
    service = component.service
    if service is None:
        return
    with contextlib.suppress(OSError), open(service.log_path, "a") as log:
        log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} supervisor: {line}\n")


def on_crash(component: Component, policy: RestartPolicy, now: float, reason: str | None = None) -> str:
    """Book a crash: end the family, then schedule a restart or give up; returns the line to log.

    `reason` is given when a restart attempt itself failed (the process never became healthy).
    """
    service = component.service
    returncode = service.returncode() if service is not None else None
    last_line = last_log_line(service.log_path) if service is not None else ""
    orphans = end_family(component)
    if component.healthy_since is not None and now - component.healthy_since >= policy.stable_s:
        component.streak = 0
    component.healthy_since = None
    component.streak += 1
    component.last_exit = reason or exit_text(returncode)
    if orphans:
        component.last_exit += f"; ended {len(orphans)} leftover process(es)"
    if component.streak > policy.max_restarts:
        component.state = ComponentState.FAILED
        component.restart_due = None
        component.detail = f"crash loop: gave up after {component.restarts} restart(s); last: {component.last_exit}" + (
            f" ({last_line})" if last_line else ""
        )
        line = f"{component.name} {component.detail}"
    else:
        delay = policy.delay(component.streak)
        component.state = ComponentState.RESTARTING
        component.restart_due = now + delay
        component.detail = (
            f"restart {component.streak}/{policy.max_restarts} in {delay:g} s; last: {component.last_exit}"
        )
        line = f"{component.name} stopped ({component.last_exit}); {component.detail}"
    note_in_log(component, line)
    return line


def on_restarted(component: Component, now: float, seconds: float) -> str:
    component.restarts += 1
    component.healthy_since = now
    component.restart_due = None
    component.detail = f"restarted ({component.restarts}×) in {seconds:.1f} s; last: {component.last_exit}"
    line = f"{component.name} {component.detail}"
    note_in_log(component, line)
    return line


def hold_dependants(components: dict[str, Component], crashed: Component) -> list[Component]:
    """Stop the healthy components that restart after `crashed` (they wait for it; no new streak)."""
    held = []
    for component in components.values():
        if crashed.name not in component.spec.restart_after or component.state != ComponentState.HEALTHY:
            continue
        component.state = ComponentState.RESTARTING  # first, so that the watch does not see a crash
        component.restart_due = None
        component.detail = f"waiting for {crashed.name} to restart"
        if component.service is not None:
            with contextlib.suppress(Exception):
                component.service.stop(timeout=2.0)  # its broker is gone: a clean exit cannot flush
        component.family = set()
        component.last_exit = f"stopped with {crashed.name} at {time.strftime('%H:%M:%S')}"
        note_in_log(component, f"{component.name} stopped: {crashed.name} crashed, restarting after it")
        held.append(component)
    return held


def release_dependants(components: dict[str, Component], restarted: Component, now: float) -> None:
    """`restarted` is back (restart them now) or FAILED (so are they)."""
    for component in components.values():
        if restarted.name not in component.spec.restart_after or component.state != ComponentState.RESTARTING:
            continue
        if component.restart_due is not None:
            continue
        if restarted.state == ComponentState.HEALTHY:
            component.restart_due = now
        elif restarted.state == ComponentState.FAILED:
            component.state = ComponentState.FAILED
            component.detail = f"not restarted: {restarted.name} failed"


def restart_is_due(component: Component, now: float) -> bool:
    return (
        component.state == ComponentState.RESTARTING
        and component.restart_due is not None
        and now >= component.restart_due
    )


def reap_job(component: Component) -> bool:
    """Record the outcome of a background job that has ended; True when it just ended."""
    service = component.service
    if not component.spec.job or component.state != ComponentState.RUNNING or service is None:
        return False
    rc = service.returncode()
    if rc is None:
        return False
    component.state = ComponentState.DONE if rc == 0 else ComponentState.FAILED
    component.detail = last_log_line(service.log_path) or f"exit code {rc}"
    component.seconds = round(service.seconds_since_launch, 1)
    return True
