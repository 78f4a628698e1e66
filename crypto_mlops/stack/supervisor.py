"""The process supervisor behind `make up`: start every component, watch them, stop them all.

What runs, in which order and how each is checked is declared in topology.py; this module only
drives it. Every child runs in its own session (process group) with its log under `.stack/logs/`;
the state (PIDs, URLs, health specs) is kept in `.stack/state.json` (statefile.py) for
`stack health|logs|down`. Jobs (training) run in the background, shown but not required.
`watch_once` is the one place that notices a component ending (where a restart policy would go).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import FrameType

import psutil
from rich.console import Console

from crypto_mlops.config import Settings, StackSettings, get_settings
from crypto_mlops.stack.component import Component, ComponentState
from crypto_mlops.stack.health import HealthKind
from crypto_mlops.stack.ports import is_port_free
from crypto_mlops.stack.process import ServiceError, failure_summary, last_log_line
from crypto_mlops.stack.shutdown import kill_leftovers, process_family
from crypto_mlops.stack.statefile import StackState, read_state, remove_state, write_state
from crypto_mlops.stack.table import status_table
from crypto_mlops.stack.topology import StackContext, component_specs, prepare_context


class StackSupervisor:
    """Start, watch and stop the stack; `run()` is `crypto-mlops stack up`."""

    def __init__(
        self,
        full: bool = False,
        settings: Settings | None = None,
        stack_settings: StackSettings | None = None,
        console: Console | None = None,
        root: Path | None = None,
    ) -> None:
        self.full = full
        self.settings = settings or get_settings()
        self.stack = stack_settings or StackSettings()
        self.console = console or Console()
        self.context = StackContext(self.settings, self.stack, (root or Path.cwd()).absolute(), full)
        self.home = self.context.home
        self.logs = self.context.logs
        self.components: dict[str, Component] = {}
        self.stop_event = threading.Event()
        self.started_at = time.time()
        self.healthy_after: float | None = None
        self._lock = threading.RLock()  # component states and the state file

    def plan(self) -> None:
        """Decide the environment and every component's process (nothing starts yet)."""
        self.context = prepare_context(self.settings, self.stack, self.context.root, self.full)
        self.components = {spec.name: Component.from_spec(spec) for spec in component_specs(self.context)}

    # ----------------------------------------------------------------------------------- start
    def _set(self, component: Component, state: ComponentState, detail: str | None = None) -> None:
        with self._lock:
            component.state = state
            if detail is not None:
                component.detail = detail

    def _start_one(self, component: Component) -> None:
        spec, service = component.spec, component.service
        self._set(component, ComponentState.STARTING)
        t0 = time.monotonic()
        try:
            if spec.port is not None and not is_port_free(spec.port):
                raise ServiceError(f"port {spec.port} is already in use (another stack running? try `stack down`)")
            if service is not None:
                service.start(timeout=self.stack.start_timeout_s)
            if spec.on_ready is not None:
                spec.on_ready()
        except Exception as exc:
            self._set(component, ComponentState.FAILED, failure_summary(exc))
        else:
            with self._lock:
                component.seconds = None if spec.job else round(time.monotonic() - t0, 1)
                component.state = ComponentState.RUNNING if spec.job else ComponentState.HEALTHY
                if component.health is not None and component.health.kind is HealthKind.PROCESS:
                    component.health = component.health.with_pid(component.pid)
        self.write_state()

    def _launchable(self, pending: list[Component]) -> list[Component]:
        """Pending components whose dependencies have settled; those with a failed required
        dependency are marked failed instead of being returned."""
        out = []
        for component in list(pending):
            deps = [self.components[d] for d in component.spec.depends_on if d in self.components]
            if not all(d.settled for d in deps):
                continue
            pending.remove(component)
            failed = [d.name for d in deps if d.state == ComponentState.FAILED and d.spec.required]
            if failed:
                self._set(component, ComponentState.FAILED, f"not started: {', '.join(failed)} failed")
            else:
                out.append(component)
        return out

    def start_all(self) -> None:
        """Start components as their dependencies settle (in parallel where possible)."""
        pending = list(self.components.values())
        futures: list[Future[None]] = []
        with ThreadPoolExecutor(max_workers=max(1, len(pending))) as pool:
            while pending or not all(f.done() for f in futures):
                if self.stop_event.is_set():
                    # Ctrl-C while starting: stop what is still starting so its start() returns now.
                    for component in self.components.values():
                        if component.state == ComponentState.STARTING and component.service is not None:
                            with contextlib.suppress(Exception):
                                component.service.stop(timeout=5.0)
                    break
                for component in self._launchable(pending):
                    futures.append(pool.submit(self._start_one, component))
                time.sleep(0.1)
                self._reap_jobs()
        self.write_state()

    # ----------------------------------------------------------------------------------- watch
    def _reap_jobs(self) -> None:
        """Record the outcome of background jobs that have ended."""
        for component in self.components.values():
            service = component.service
            if not component.spec.job or component.state != ComponentState.RUNNING or service is None:
                continue
            rc = service.returncode()
            if rc is None:
                continue
            with self._lock:
                component.state = ComponentState.DONE if rc == 0 else ComponentState.FAILED
                component.detail = last_log_line(service.log_path) or f"exit code {rc}"
                component.seconds = round(service.seconds_since_launch, 1)
            self.write_state()

    def _check_servers(self) -> None:
        """A healthy server whose process ended has failed (it is not restarted)."""
        for component in self.components.values():
            service = component.service
            if component.spec.job or component.state != ComponentState.HEALTHY or service is None or service.running():
                continue
            self._set(component, ComponentState.FAILED, f"exited: {last_log_line(service.log_path)}")
            self.console.print(f"[red]✗ {component.name} stopped unexpectedly[/]: {component.detail}")
            self.write_state()

    def watch_once(self) -> None:
        self._reap_jobs()
        self._check_servers()

    def all_healthy(self) -> bool:
        return all(c.state == ComponentState.HEALTHY for c in self.components.values() if c.spec.required)

    # ------------------------------------------------------------------------------ state file
    def snapshot(self) -> StackState:
        with self._lock:
            return {
                "supervisor_pid": os.getpid(),
                "full": self.full,
                "started_at": self.started_at,
                "healthy_after_s": self.healthy_after,
                "notes": list(self.context.notes),
                "logs": str(self.logs),
                "components": [c.record(self.logs) for c in self.components.values()],
            }

    def write_state(self) -> None:
        with self._lock:  # one writer at a time: start threads share the temp file
            write_state(self.home, self.snapshot())

    # ------------------------------------------------------------------------------------ stop
    def stop_all(self) -> list[int]:
        """Stop every child (reverse start order), then make sure none of their descendants survives."""
        family: set[int] = set()
        for component in self.components.values():
            family |= process_family(component.pid)
        for component in reversed(self.components.values()):
            if component.service is None:
                continue
            with contextlib.suppress(Exception):
                component.service.stop(timeout=component.spec.stop_timeout)
            if component.state != ComponentState.FAILED:
                self._set(component, ComponentState.STOPPED)
        survivors = kill_leftovers(family)
        self.write_state()
        return survivors

    # ------------------------------------------------------------------------------------- run
    def _another_stack(self) -> int | None:
        existing = read_state(self.home)
        pid = existing.get("supervisor_pid") if existing else None
        return pid if pid and pid != os.getpid() and psutil.pid_exists(pid) else None

    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_event.set()

    def run(self) -> int:
        """`stack up`: start, print the table, wait for Ctrl-C / `stack down`, stop everything."""
        other = self._another_stack()
        if other is not None:
            self.console.print(
                f"[red]a stack is already running[/] (supervisor pid {other}); `crypto-mlops stack down` stops it"
            )
            return 1
        self.logs.mkdir(parents=True, exist_ok=True)
        previous = {sig: signal.signal(sig, self._request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        t0 = time.monotonic()
        try:
            with self.console.status("planning the stack (probing the exchange)..."):
                self.plan()
            for note in self.context.notes:
                self.console.print(f"[cyan]•[/] {note}")
            self.write_state()
            with self.console.status("starting components..."):
                self.start_all()
            if self.stop_event.is_set():
                self.console.print("[yellow]interrupted while starting[/]")
                return 130
            if self.all_healthy():
                self.healthy_after = round(time.monotonic() - t0, 1)
            self.write_state()
            self.console.print(status_table(self.snapshot()))
            if self.healthy_after is not None:
                self.console.print(
                    f"[bold green]all components healthy after {self.healthy_after} s[/] — "
                    "Ctrl-C (or `crypto-mlops stack down`) stops everything"
                )
            else:
                self.console.print(
                    "[bold yellow]some components failed[/] (see the table and `crypto-mlops stack "
                    "logs NAME`); the others keep running — Ctrl-C stops everything"
                )
            while not self.stop_event.wait(2.0):
                self.watch_once()
        finally:
            self.console.print("stopping the stack...")
            survivors = self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if survivors:
                self.console.print(f"[red]killed leftover processes {survivors}[/]")
            self.console.print("[green]stack stopped; no child process left[/]")
            remove_state(self.home)
        return 0 if self.healthy_after is not None else 1
