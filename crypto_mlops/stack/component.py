"""What a stack component is (`ComponentSpec`, declared once) and how it is doing (`Component`).

The spec list (topology.component_specs) feeds both the supervisor, which builds and starts each
component's process, and `stack health`/`urls` without a running stack, which only probe them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from crypto_mlops.stack.health import HealthKind, HealthSpec
from crypto_mlops.stack.process import ManagedProcess
from crypto_mlops.stack.statefile import ComponentRecord


class ComponentState(StrEnum):
    PENDING = "pending"  # waiting for its dependencies
    STARTING = "starting"
    HEALTHY = "healthy"  # a server that passed its readiness check
    RUNNING = "running"  # a job that was launched and has not ended
    DONE = "done"  # a job that ended with exit code 0
    UNHEALTHY = "unhealthy"  # a probe (stack health) failed
    RESTARTING = "restarting"  # a server that crashed, waiting for its backoff or starting again
    FAILED = "failed"  # did not start, crashed past the restart limit, or a job ended with an error
    STOPPED = "stopped"


@dataclass(frozen=True)
class ComponentSpec:
    """One part of the stack, declared once.

    `build` makes its (not yet started) process; `on_ready` runs once that process is ready
    (databases, buckets, environment for later children). A `job` runs to completion in the
    background; jobs are not `required` for the stack to count as healthy. A crashed server is
    restarted (restart.py); `restart_after` names the components whose restart restarts it too.
    """

    name: str
    role: str
    url: str | None = None
    port: int | None = None
    health: HealthSpec | None = None
    depends_on: tuple[str, ...] = ()
    required: bool = True
    job: bool = False
    stop_timeout: float = 10.0
    #: Stopped when one of these crashes and started again once it is back (a consumer whose group
    #: offsets and positions die with an in-memory broker must not carry them over to the new one).
    restart_after: tuple[str, ...] = ()
    build: Callable[[], ManagedProcess] | None = field(default=None, compare=False)
    on_ready: Callable[[], None] | None = field(default=None, compare=False)

    @property
    def probeable(self) -> bool:
        """Can another shell probe it without the supervisor's state (a network check, not a job)?"""
        return not self.job and self.health is not None and self.health.kind is not HealthKind.PROCESS


@dataclass
class Component:
    """A spec plus its process and its current state (owned by the supervisor)."""

    spec: ComponentSpec
    service: ManagedProcess | None = None
    state: ComponentState = ComponentState.PENDING
    detail: str = ""
    seconds: float | None = None
    #: The spec's health check; process checks get the pid once the process runs.
    health: HealthSpec | None = None
    #: Restarts so far, and how the last run ended ("killed by SIGKILL at 10:31:02").
    restarts: int = 0
    last_exit: str | None = None
    #: Crashes since the component last stayed up for the policy's `stable_s` (a crash loop counter).
    streak: int = 0
    healthy_since: float | None = None
    #: Monotonic time at which the next restart may start (None: none scheduled).
    restart_due: float | None = None
    #: The process family last seen while it ran: a killed parent's orphans are found through it.
    family: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.health is None:
            self.health = self.spec.health

    @classmethod
    def from_spec(cls, spec: ComponentSpec) -> Component:
        """The component with its (not yet started) process."""
        return cls(spec, service=spec.build() if spec.build is not None else None)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int | None:
        return self.service.pid if self.service is not None else None

    @property
    def settled(self) -> bool:
        """Dependants may go ahead: a server is healthy or failed, a job has ended."""
        if self.spec.job:
            return self.state in (ComponentState.DONE, ComponentState.FAILED, ComponentState.STOPPED)
        return self.state not in (ComponentState.PENDING, ComponentState.STARTING)

    def record(self, logs: Path) -> ComponentRecord:
        return {
            "name": self.name,
            "role": self.spec.role,
            "url": self.spec.url,
            "health": self.health.to_dict() if self.health is not None else None,
            "required": self.spec.required,
            "job": self.spec.job,
            "state": self.state,
            "detail": self.detail,
            "pid": self.pid,
            "seconds": self.seconds,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "log": str(logs / f"{self.name}.log"),
        }


def split_launchable(
    pending: list[Component], components: dict[str, Component]
) -> tuple[list[Component], list[tuple[Component, list[str]]]]:
    """Take the pending components whose dependencies have settled out of `pending`: (those to start,
    those not to start with the names of their failed required dependencies)."""
    ready: list[Component] = []
    blocked: list[tuple[Component, list[str]]] = []
    for component in list(pending):
        deps = [components[d] for d in component.spec.depends_on if d in components]
        if not all(d.settled for d in deps):
            continue
        pending.remove(component)
        failed = [d.name for d in deps if d.state == ComponentState.FAILED and d.spec.required]
        if failed:
            blocked.append((component, failed))
        else:
            ready.append(component)
    return ready, blocked
