"""The process supervisor behind `make up`: start every component, watch them, stop them all.

What runs, in which order and how each is checked is declared in topology.py; this module only
drives it. Every child runs in its own session (process group) with its log under `.stack/logs/`;
the state (PIDs, URLs, health specs) is kept in `.stack/state.json` (statefile.py) for
`stack health|logs|down`. Jobs (training) run in the background, shown but not required.
`watch_once` is the one place that notices a component ending; restart.py decides what follows
(restart with backoff, or FAILED after a crash loop).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import FrameType

from rich.console import Console

from crypto_mlops.config import Settings, StackSettings, get_settings
from crypto_mlops.stack import restart
from crypto_mlops.stack.component import Component, ComponentState, split_launchable
from crypto_mlops.stack.health import HealthKind
from crypto_mlops.stack.ports import is_port_free
from crypto_mlops.stack.process import ServiceError, failure_summary
from crypto_mlops.stack.restart import RestartPolicy
from crypto_mlops.stack.shutdown import kill_leftovers, process_family
from crypto_mlops.stack.statefile import StackState, remove_state, running_supervisor, write_state
from crypto_mlops.stack.table import started_message, status_table
from crypto_mlops.stack.topology import StackContext, component_specs, prepare_context

log = logging.getLogger(__name__)
WATCH_INTERVAL_S = 0.5  # how soon a crash is noticed (a poll and a psutil walk per component)


class StackSupervisor:
    """Start, watch and stop the stack; `run()` is `crypto-mlops stack up`."""

    def __init__(
        self,
        full: bool = False,
        settings: Settings | None = None,
        stack_settings: StackSettings | None = None,
        console: Console | None = None,
        root: Path | None = None,
        policy: RestartPolicy | None = None,
    ) -> None:
        self.full = full
        self.settings = settings or get_settings()
        self.stack = stack_settings or StackSettings()
        self.policy = policy or RestartPolicy.from_settings(self.stack)
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

    def _launch(self, component: Component, restarting: bool = False) -> str | None:
        """Start one component and wait until it is ready; the failure in one line, None when it started.

        A restart is booked in the same locked step that marks the component healthy, so no
        snapshot (and no state file) shows it healthy with the old restart count.
        """
        spec, service = component.spec, component.service
        self._set(component, ComponentState.STARTING)
        t0 = time.monotonic()
        try:
            if spec.port is not None and not is_port_free(spec.port):
                raise ServiceError(f"port {spec.port} is already in use (another stack running? try `stack down`)")
            if service is not None:
                service.start(timeout=self.stack.start_timeout_s)
            if spec.on_ready is not None and component.restarts == 0 and component.streak == 0:
                spec.on_ready()
        except Exception as exc:
            return failure_summary(exc)
        with self._lock:
            now = time.monotonic()
            component.seconds = None if spec.job else round(now - t0, 1)
            if restarting:
                self._say(f"↻ {restart.on_restarted(component, now, now - t0)}", "yellow")
            component.state = ComponentState.RUNNING if spec.job else ComponentState.HEALTHY
            component.healthy_since = now
            if component.health is not None and component.health.kind is HealthKind.PROCESS:
                component.health = component.health.with_pid(component.pid)
            self.write_state()
        return None

    def _start_one(self, component: Component) -> None:
        error = self._launch(component)
        if error is not None:
            self._set(component, ComponentState.FAILED, error)
            self.write_state()

    def _say(self, line: str, style: str) -> None:
        self.console.print(f"[{style}]{line}[/]")  # the `stack up` output; the component's log has it too
        log.debug("%s", line)

    def _launchable(self, pending: list[Component]) -> list[Component]:
        ready, blocked = split_launchable(pending, self.components)
        for component, failed in blocked:
            self._set(component, ComponentState.FAILED, f"not started: {', '.join(failed)} failed")
        return ready

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
            with self._lock:
                ended = restart.reap_job(component)
            if ended:
                self.write_state()

    def _check_servers(self) -> None:
        """A healthy server whose process ended is restarted with backoff (restart.py), or FAILED."""
        now = time.monotonic()
        for component in self.components.values():
            service = component.service
            if component.spec.job or service is None:
                continue
            if component.state == ComponentState.HEALTHY:
                if service.running():
                    restart.remember_family(component)
                    continue
                self._say(f"✗ {restart.on_crash(component, self.policy, now)}", "red")
                for held in restart.hold_dependants(self.components, component):
                    self._say(f"… {held.name} {held.detail}", "yellow")
                restart.release_dependants(self.components, component, now)  # only when it gave up at once
                self.write_state()
            elif restart.restart_is_due(component, now) and not self.stop_event.is_set():
                component.restart_due = None  # one attempt at a time
                threading.Thread(target=self._restart, args=(component,), name=f"restart-{component.name}").start()

    def _restart(self, component: Component) -> None:
        error = self._launch(component, restarting=True)
        now = time.monotonic()
        if error is not None:
            self._say(f"✗ {restart.on_crash(component, self.policy, now, reason=f'restart failed: {error}')}", "red")
        restart.release_dependants(self.components, component, now)
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
            family |= process_family(component.pid) | component.family
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
    def _request_stop(self, signum: int, frame: FrameType | None) -> None:
        self.stop_event.set()

    def run(self) -> int:
        """`stack up`: start, print the table, wait for Ctrl-C / `stack down`, stop everything."""
        other = running_supervisor(self.home)
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
            self.console.print(started_message(self.healthy_after))
            while not self.stop_event.wait(WATCH_INTERVAL_S):
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
