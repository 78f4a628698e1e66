"""What every component of the stack shares: the context (settings, folders, children's environment)
and how one of our own CLI commands becomes a component (`ours`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from crypto_mlops.config import Settings, StackSettings
from crypto_mlops.stack.child import ChildProcess, cli_command
from crypto_mlops.stack.component import ComponentSpec
from crypto_mlops.stack.exchange import exchange_reachable
from crypto_mlops.stack.health import HealthKind, HealthSpec, check
from crypto_mlops.stack.ports import LOOPBACK
from crypto_mlops.stack.process import ManagedProcess

ProducerMode = Literal["live", "simulate"]


@dataclass
class StackContext:
    """Where the stack lives and the environment its children share (servers add to `env`)."""

    settings: Settings
    stack: StackSettings
    root: Path
    full: bool = False
    producer_mode: ProducerMode = "simulate"
    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return (self.root / self.stack.home).absolute()

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def broker_port(self) -> int:
        first = self.settings.kafka_bootstrap_servers.split(",")[0].strip()
        return int(first.rsplit(":", 1)[1])


def prepare_context(settings: Settings, stack: StackSettings, root: Path, full: bool) -> StackContext:
    """The children's environment and the producer's mode (probes the exchange once)."""
    ctx = StackContext(settings, stack, root.absolute(), full)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # airflow spawns `airflow`
    env["PYTHONUNBUFFERED"] = "1"
    env["API_URL"] = f"http://{LOOPBACK}:{settings.api_port}"
    env["API_HOST"] = LOOPBACK
    ports = {"API_PORT": settings.api_port, "GRAPHQL_PORT": settings.graphql_port}
    ports |= {"GRPC_PORT": settings.grpc_port, "MLFLOW_PORT": settings.mlflow_port}
    env.update({key: str(value) for key, value in ports.items()})
    env["KAFKA_BOOTSTRAP_SERVERS"] = f"{LOOPBACK}:{ctx.broker_port}"
    ctx.env = env
    if settings.data_source == "ccxt":
        ok, detail = exchange_reachable(settings.exchange, stack.exchange_probe_timeout_s)
        if ok:
            ctx.producer_mode = "live"
            ctx.notes.append(f"exchange {settings.exchange} reachable ({detail}): live prices")
        else:
            env["DATA_SOURCE"] = "synthetic"
            ctx.notes.append(
                f"exchange {settings.exchange} unreachable ({detail}): using the simulator (source=synthetic)"
            )
    return ctx


def always_ready() -> bool:
    return True


def probe_passes(spec: HealthSpec) -> Callable[[], bool]:
    return lambda: check(spec).ok


def ours(
    ctx: StackContext,
    name: str,
    role: str,
    args: tuple[str, ...],
    *,
    health: HealthSpec | None = None,
    url: str | None = None,
    depends_on: tuple[str, ...] = (),
    job: bool = False,
    restart_after: tuple[str, ...] = (),
    wait_for: Callable[[], bool] | None = None,
) -> ComponentSpec:
    """A component that runs one of our own CLI commands: a server with a probe, a worker or a job.

    A job counts as started once launched (the supervisor watches it end); a worker (process
    check) once it survived a few seconds; a server once its probe passes. `wait_for` delays the
    launch until it is true (see `ChildProcess.prepare`).
    """
    ready: Callable[[], bool] | None = None
    if job:
        ready = always_ready
    elif health is not None and health.kind is not HealthKind.PROCESS:
        ready = probe_passes(health)

    def build() -> ManagedProcess:
        return ChildProcess(name, cli_command(*args), ctx.env, ctx.log(name), ready=ready, wait_for=wait_for)

    port = health.port if health is not None else None
    return ComponentSpec(
        name,
        role,
        url,
        port,
        health,
        depends_on=depends_on,
        required=not job,
        job=job,
        build=build,
        restart_after=restart_after,
    )
