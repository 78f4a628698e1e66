"""A port served by another component's process (GraphQL and gRPC inside `serve all`).

With STACK_SERVING=one, one process (`crypto-mlops serve all`, the `api` component) serves REST,
standalone GraphQL and gRPC. The `graphql` and `grpc` components stay in the component list, so that
the status table, `stack health` and the dependencies still show and probe each port, but they start
no process of their own: a `SharedEndpoint` is ready once its probe passes against the host's port,
reports the host's pid, and leaves stopping to the host.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

from crypto_mlops.stack.child import ChildProcess
from crypto_mlops.stack.ports import LOOPBACK, is_port_free, wait_until
from crypto_mlops.stack.process import ManagedProcess, ServiceError


class ServingProcess(ChildProcess):
    """`serve all`: one child that binds several ports; refuses to start when any of them is taken."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        ready: Callable[[], bool],
        ports: Sequence[int],
    ) -> None:
        super().__init__(name, command, env, log_path, ready=ready)
        self.ports = tuple(ports)

    def prepare(self) -> None:
        taken = [port for port in self.ports if not is_port_free(port)]
        if taken:
            raise ServiceError(f"{self.name}: port(s) {taken} on {LOOPBACK} already in use (another stack running?)")


class SharedEndpoint(ManagedProcess):
    """A port of `host()`'s process: started = the host runs and `ready()` passes; stop() is the host's."""

    def __init__(
        self,
        name: str,
        host: Callable[[], ManagedProcess | None],
        ready: Callable[[], bool],
        log_path: Path,
        host_name: str,
        start_timeout: float = 120.0,
    ) -> None:
        super().__init__(log_path)
        self.name = name
        self._host = host
        self._ready = ready
        self.host_name = host_name
        self.default_start_timeout = start_timeout

    @property
    def pid(self) -> int | None:
        host = self._host()
        return host.pid if host is not None else None

    def running(self) -> bool:
        host = self._host()
        return host is not None and host.running()

    def returncode(self) -> int | None:
        host = self._host()
        return host.returncode() if host is not None else None

    def ready(self) -> bool:
        return self.running() and self._ready()

    def start(self, timeout: float | None = None) -> Self:
        """Wait until the host runs and the port answers (a restart waits for the host's own restart)."""
        timeout = self.default_start_timeout if timeout is None else timeout
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a") as log:  # `stack logs NAME` says where the lines are
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} served by the {self.host_name} process: see its log\n")
        try:
            self.start_seconds = wait_until(self.ready, timeout, self.name)
        except Exception as exc:
            raise ServiceError(f"{self.name} (in the {self.host_name} process) not ready: {exc}") from exc
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Nothing of its own to stop: the host's process ends this port with it."""
