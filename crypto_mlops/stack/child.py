"""The stack's own commands (API, GraphQL, gRPC, stream workers, pipeline jobs) as managed children."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from crypto_mlops.stack.ports import PortTimeout, wait_until
from crypto_mlops.stack.process import ManagedProcess

# Children of a non-interactive shell inherit SIGINT=ignored, and an ignored signal stays ignored
# across exec. Airflow standalone only stops its children cleanly on KeyboardInterrupt, so it is
# started through this one-liner that gives SIGINT its default back before exec'ing the command.
_WITH_SIGINT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])",
]
#: A worker still alive this long after its launch started fine (a bad command line dies sooner).
WORKER_GRACE_S = 3.0


def cli_command(*args: str) -> list[str]:
    """`crypto-mlops ARGS` run by this interpreter (works without the console script on PATH)."""
    return [sys.executable, "-m", "crypto_mlops.cli.main", *args]


class ChildProcess(ManagedProcess):
    """One command of ours, run like the servers: own session, log file, readiness check, clean stop.

    `ready` says when it is up (e.g. its health probe passes); without one a worker counts as
    ready once it has survived `WORKER_GRACE_S`.
    """

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        ready: Callable[[], bool] | None = None,
        start_timeout: float = 120.0,
        restore_sigint: bool = False,
        wait_for: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(log_path)
        self.name = name
        self._command = [*_WITH_SIGINT, *command] if restore_sigint else command
        #: Shared with the supervisor, which adds to it (e.g. DATABASE_URL) before later children start.
        self._env = env
        self._ready = ready
        self.default_start_timeout = start_timeout
        #: Launch only once this is true (checked every 0.2 s, at most `start_timeout`, then launched anyway).
        self.wait_for = wait_for

    def command(self) -> list[str]:
        return self._command

    def environment(self) -> dict[str, str]:
        return self._env

    def prepare(self) -> None:
        if self.wait_for is not None:
            with contextlib.suppress(PortTimeout):  # what it waited for is late: start as if it had no wait
                wait_until(self.wait_for, self.default_start_timeout, f"{self.name}: its start condition", interval=0.2)

    def ready(self) -> bool:
        if self._ready is not None:
            return self._ready()
        return self.running() and self.seconds_since_launch > WORKER_GRACE_S
