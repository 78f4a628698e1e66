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
    FAILED = "failed"  # did not start, crashed, or a job ended with an error
    STOPPED = "stopped"


@dataclass(frozen=True)
class ComponentSpec:
    """One part of the stack, declared once.

    `build` makes its (not yet started) process; `on_ready` runs once that process is ready
    (databases, buckets, environment for later children). A `job` runs to completion in the
    background; jobs are not `required` for the stack to count as healthy.
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
            "log": str(logs / f"{self.name}.log"),
        }
