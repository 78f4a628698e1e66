"""One long-running child process: a log file, a readiness check and a stop that leaves nothing behind.

Every server wrapper (postgres.py, seaweed.py, tansu.py, mlflow_server.py) and the stack's own
children (child.py, airflow.py) are `ManagedProcess` subclasses:

    with TansuBroker(port=free_port()) as broker:   # start() ... stop()
        print(broker.pid, broker.log_path, broker.is_healthy(), broker.start_seconds)

- `start(timeout=None) -> self` launches the process (stdout+stderr to `log_path`), waits for its
  readiness check and raises `ServiceError` with the log's tail when it dies or times out;
- `stop(timeout=15.0)` stops it by PID (SIGTERM, or the server's own fast-shutdown signal), then
  SIGKILLs the process and its process group (each child runs in its own session) if it lingers;
- `is_healthy()` is a cheap liveness + readiness probe; `pid`, `log_path`, `start_seconds`.

`ServiceUnavailable` (a `ServiceError`) means the binary cannot be found on this machine; the
test fixtures turn only that into a skip.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from crypto_mlops.stack.ports import LOOPBACK, is_port_free, wait_until

logger = logging.getLogger(__name__)


class ServiceError(RuntimeError):
    """A server failed to start, crashed or could not be stopped."""


class ServiceUnavailable(ServiceError):
    """The server's binary is not installed on this machine."""


def log_tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log, for error messages."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def last_log_line(path: Path) -> str:
    """The last line of a log that says something (not a rich box border or an empty line)."""
    try:
        lines = [
            line.strip(" │|")
            for line in path.read_text(errors="replace").splitlines()
            if any(ch.isalnum() for ch in line)
        ]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def failure_summary(exc: BaseException) -> str:
    """One line for a status table: the error's first line plus the last line of the log tail it carries."""
    lines = str(exc).splitlines()
    if not lines:
        return repr(exc)
    log_tail = [line for line in lines[1:] if line.strip()][-1:]
    return "; ".join(part[:160] for part in [lines[0], *log_tail])


def venv_script(name: str) -> str | None:
    """A console script of the running interpreter's environment, else one on PATH."""
    for folder in (Path(sys.prefix) / "bin", Path(sys.executable).parent):
        candidate = folder / name
        if candidate.exists() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def succeeds(probe: Callable[[], object]) -> bool:
    """True when `probe()` returns without raising (readiness checks that talk to a server)."""
    try:
        probe()
    except Exception:
        return False
    return True


def _parent_death_signal(sig: int) -> Callable[[], None] | None:
    """A Popen preexec_fn that asks Linux to send `sig` to the child when its parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def set_pdeathsig() -> None:  # runs in the child after setuid, so the setting survives
        libc.prctl(pr_set_pdeathsig, int(sig), 0, 0, 0)

    return set_pdeathsig


class ManagedProcess:
    """Base class: one long-running child process with a log file and a readiness check."""

    #: Shown in log lines and errors.
    name: str = "service"
    #: Signal that asks the server to shut down quickly and cleanly.
    stop_signal: ClassVar[int] = signal.SIGTERM
    #: Seconds start() waits for readiness when not told otherwise (instances may override it).
    default_start_timeout: float = 30.0
    #: The loopback port the server listens on; start() refuses to run when it is taken.
    port: int | None = None

    def __init__(self, log_path: Path) -> None:
        self.log_path = Path(log_path)
        self.start_seconds: float | None = None
        #: Linux only: the kernel sends the server `stop_signal` when the thread that started it
        #: dies, so a killed test run leaves no server behind. Only set this when start() is
        #: called from a thread that lives as long as the server (pytest's main thread does).
        self.die_with_parent = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._started_at = 0.0

    # --- to be provided by subclasses ---------------------------------------------------------
    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def popen_kwargs(self) -> dict[str, Any]:
        """Extra keyword arguments for Popen (e.g. user= for PostgreSQL as root)."""
        return {}

    def ready(self) -> bool:
        """True once the server answers (called repeatedly while starting)."""
        raise NotImplementedError

    def prepare(self) -> None:
        """One-off work before the process starts (directories, config files, initdb)."""

    def after_start(self) -> None:
        """Work once the server is ready (roles, buckets)."""

    # --- public API ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        """PID of the running server process, None when not running."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def returncode(self) -> int | None:
        """The exit code once the process has ended; None while it runs (or before it started)."""
        return self._proc.poll() if self._proc is not None else None

    @property
    def seconds_since_launch(self) -> float:
        return time.monotonic() - self._started_at

    def is_healthy(self) -> bool:
        return self.running() and self.ready()

    def start(self, timeout: float | None = None) -> Self:
        """Start the server and block until it is ready; returns self."""
        if self.running():
            return self
        timeout = self.default_start_timeout if timeout is None else timeout
        t0 = time.monotonic()
        if self.port and not is_port_free(self.port):
            # Otherwise the readiness probe would talk to whatever already listens there.
            raise ServiceError(f"{self.name}: port {LOOPBACK}:{self.port} is already in use")
        self.prepare()
        self._launch()
        try:
            wait_until(self.ready, timeout, self.name, interval=0.1, alive=self.running)
            self.after_start()
        except Exception as exc:
            rc = self.returncode()
            self.stop()
            state = f"exited with code {rc}" if rc is not None else f"not ready after {timeout:.0f} s"
            raise ServiceError(f"{self.name} {state} ({exc}); log {self.log_path}:\n{log_tail(self.log_path)}") from exc
        self.start_seconds = time.monotonic() - t0
        logger.info("%s ready in %.1f s (pid %s, log %s)", self.name, self.start_seconds, self.pid, self.log_path)
        return self

    def _launch(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- {time.strftime('%Y-%m-%dT%H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
            log.flush()
            self._started_at = time.monotonic()
            try:
                self._proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.environment(),
                    start_new_session=True,  # own process group: stop() can reap its children
                    preexec_fn=_parent_death_signal(self.stop_signal) if self.die_with_parent else None,
                    **self.popen_kwargs(),
                )
            except OSError as exc:
                raise ServiceError(f"{self.name}: cannot run {cmd[0]}: {exc}") from exc

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server by PID; SIGKILL it (and its process group) if it does not exit in time."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        pgid = proc.pid  # start_new_session=True: the group id is the child's pid
        t0 = time.monotonic()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(self.stop_signal)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                proc.wait(timeout=5)
        # Grandchildren (mlflow's uvicorn and job runner) left in our group: end them too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                os.killpg(pgid, 0)
                time.sleep(0.1)
            os.killpg(pgid, signal.SIGKILL)
        logger.info("%s (pid %s) stopped in %.1f s", self.name, pgid, time.monotonic() - t0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} pid={self.pid} log={self.log_path}>"
