"""The process supervisor behind `make up`: start every part of the stack, watch it, stop it all.

Embedded (default, no Docker, works offline):
    tansu broker -> bootstrap (a champion exists: the best baseline at once) -> API/UI/GraphQL,
    standalone GraphQL, gRPC, MLflow UI (SQLite + local artifacts), producer, consumer
    -> background trainer (`crypto-mlops pipeline run`: trains the learned model, gates, reloads the API).
Full (`--full`): PostgreSQL + SeaweedFS S3 first, MLflow on PostgreSQL + S3, the broker on S3
storage, the app on PostgreSQL/S3, and Airflow standalone with the DAG.

Every child runs in its own session (process group) with its log under `.stack/logs/`; the
state (PIDs, URLs, health specs) is kept in `.stack/state.json` for `stack health|logs|down`.
Health never waits on training: the trainer is a background job, shown but not required.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import psutil
from rich.console import Console
from rich.table import Table

from crypto_mlops.config import Settings, StackSettings, get_settings
from crypto_mlops.stack import health
from crypto_mlops.stack.ports import LOOPBACK, is_port_free
from crypto_mlops.stack.services import (
    ManagedProcess,
    MlflowServer,
    PostgresServer,
    SeaweedS3,
    ServiceError,
    TansuBroker,
)

BUCKETS = ("raw-data", "processed-data", "quality-reports", "models", "mlflow", "tansu")


# Children of a non-interactive shell inherit SIGINT=ignored, and an ignored signal stays ignored
# across exec. Airflow standalone only stops its children cleanly on KeyboardInterrupt, so it is
# started through this one-liner that gives SIGINT its default back before exec'ing the command.
_WITH_SIGINT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])",
]


class ChildProcess(ManagedProcess):
    """One command of ours (API, workers, jobs) run like the infra helper's servers."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict[str, str],
        log_path: Path,
        ready: Callable[[], bool] | None = None,
        start_timeout: float = 120.0,
        restore_sigint: bool = False,
    ) -> None:
        super().__init__(log_path)
        self.label = name
        self._command = [*_WITH_SIGINT, *command] if restore_sigint else command
        self._env = env
        self._ready = ready
        self._started_at = 0.0
        self.timeout = start_timeout

    def command(self) -> list[str]:
        self._started_at = time.monotonic()
        return self._command

    @property
    def started_monotonic(self) -> float:
        return self._started_at

    def environment(self) -> dict[str, str]:
        return self._env

    def ready(self) -> bool:
        if self._ready is not None:
            return self._ready()
        # A worker that is still alive after 3 s started fine (a bad command line dies sooner).
        return self.running() and time.monotonic() - self._started_at > 3.0

    def returncode(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None


class AirflowStandalone(ChildProcess):
    stop_signal: ClassVar[int] = signal.SIGINT  # SIGTERM would orphan its ~12 children


@dataclass
class Component:
    name: str
    role: str
    url: str | None = None
    health_spec: dict[str, Any] | None = None
    required: bool = True
    job: bool = False
    state: str = "pending"
    detail: str = ""
    seconds: float | None = None
    service: Any = None
    start: Callable[[], None] | None = None
    after: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return getattr(self.service, "pid", None) if self.service is not None else None


def _venv_bin() -> Path:
    return Path(sys.executable).parent


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "crypto_mlops.cli.main", *args]


def exchange_reachable(exchange: str, timeout: float) -> tuple[bool, str]:
    """Can we open a TCP connection to the exchange's API host? (DNS + connect, no request.)"""
    try:
        import ccxt

        urls = getattr(ccxt, exchange)().urls.get("api")
        url = urls if isinstance(urls, str) else next(v for v in (urls or {}).values() if isinstance(v, str))
        host = urlparse(url).hostname or ""
        with socket.create_connection((host, 443), timeout=timeout):
            return True, host
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"[:120]


def dags_folder(root: Path) -> Path:
    """The repository's airflow/dags (next to the package in a source checkout), else ROOT/airflow/dags."""
    beside_package = Path(__file__).resolve().parents[2] / "airflow" / "dags"
    return beside_package if (beside_package / "crypto_ml_pipeline.py").exists() else root / "airflow" / "dags"


def _port_of(bootstrap: str) -> int:
    first = bootstrap.split(",")[0].strip()
    return int(first.rsplit(":", 1)[1])


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
        self.root = (root or Path.cwd()).absolute()
        self.home = (self.root / self.stack.home).absolute()
        self.logs = self.home / "logs"
        self.components: dict[str, Component] = {}
        self.env: dict[str, str] = {}
        self.stop_event = threading.Event()
        self.started_at = time.time()
        self.healthy_after: float | None = None
        self.notes: list[str] = []
        self._lock = threading.Lock()

    # ----------------------------------------------------------------------------- environment
    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{_venv_bin()}{os.pathsep}{env.get('PATH', '')}"  # airflow spawns `airflow` by name
        env["PYTHONUNBUFFERED"] = "1"
        s = self.settings
        env["API_URL"] = f"http://{LOOPBACK}:{s.api_port}"
        env["API_HOST"] = LOOPBACK
        for key, value in (
            ("API_PORT", s.api_port),
            ("GRAPHQL_PORT", s.graphql_port),
            ("GRPC_PORT", s.grpc_port),
            ("MLFLOW_PORT", s.mlflow_port),
        ):
            env[key] = str(value)
        env["KAFKA_BOOTSTRAP_SERVERS"] = s.kafka_bootstrap_servers
        return env

    def _decide_source(self) -> str:
        """Producer mode; switches the app to the simulator when the exchange is unreachable."""
        if self.settings.data_source != "ccxt":
            return "simulate"
        ok, detail = exchange_reachable(self.settings.exchange, self.stack.exchange_probe_timeout_s)
        if ok:
            self.notes.append(f"exchange {self.settings.exchange} reachable ({detail}): live prices")
            return "live"
        self.env["DATA_SOURCE"] = "synthetic"
        self.notes.append(
            f"exchange {self.settings.exchange} unreachable ({detail}): using the simulator (source=synthetic)"
        )
        return "simulate"

    # ------------------------------------------------------------------------------ components
    def _add(self, component: Component) -> Component:
        self.components[component.name] = component
        return component

    def _child(
        self,
        name: str,
        command: list[str],
        ready: Callable[[], bool] | None = None,
        cls: type[ChildProcess] = ChildProcess,
        **kwargs: Any,
    ) -> ChildProcess:
        return cls(
            name,
            command,
            self.env,
            self.logs / f"{name}.log",
            ready=ready,
            start_timeout=self.stack.start_timeout_s,
            **kwargs,
        )

    def plan(self) -> None:
        """Decide every component, its command, URL and health check (nothing starts yet)."""
        s, st = self.settings, self.stack
        self.env = self._base_env()
        mode = self._decide_source()
        broker_port = _port_of(s.kafka_bootstrap_servers)
        self.env["KAFKA_BOOTSTRAP_SERVERS"] = f"{LOOPBACK}:{broker_port}"
        data = self.home / "data"

        if self.full:
            pg = PostgresServer(data / "postgres", port=st.postgres_port, log_path=self.logs / "postgres.log")
            s3 = SeaweedS3(
                data / "s3",
                port=st.s3_port,
                access_key=st.s3_access_key,
                secret_key=st.s3_secret_key,
                buckets=BUCKETS,
                log_path=self.logs / "seaweedfs.log",
            )
            self._add(
                Component(
                    "postgres",
                    "PostgreSQL (MLflow, Airflow, history)",
                    f"postgresql://{LOOPBACK}:{pg.port}",
                    {"type": "tcp", "port": pg.port},
                    service=pg,
                    start=lambda: self._start_postgres(pg),
                )
            )
            self._add(
                Component(
                    "seaweedfs",
                    "S3 buckets (SeaweedFS)",
                    s3.endpoint_url,
                    {"type": "tcp", "port": s3.port},
                    service=s3,
                    start=lambda: self._start_s3(s3),
                )
            )
            mlflow: ManagedProcess = MlflowServer(
                s.mlflow_port,
                backend_uri=pg.url("mlflow"),
                artifacts_destination="s3://mlflow/artifacts",
                env=s3.env(),
                log_path=self.logs / "mlflow.log",
            )
            broker = TansuBroker(broker_port, storage="s3://tansu/", env=s3.env(), log_path=self.logs / "broker.log")
            after_servers = ["postgres", "seaweedfs"]
        else:
            tracking = s.mlflow_tracking_uri
            backend = tracking if tracking.startswith("sqlite:") else f"sqlite:///{self.root / 'mlflow.db'}"
            mlflow = MlflowServer(
                s.mlflow_port,
                backend_uri=backend,
                artifacts_destination=str(self.root / "mlartifacts"),
                log_path=self.logs / "mlflow.log",
            )
            broker = TansuBroker(broker_port, log_path=self.logs / "broker.log")
            after_servers = []

        mlflow_url = f"http://{LOOPBACK}:{s.mlflow_port}"
        self._add(
            Component(
                "broker",
                "Kafka-protocol broker (tansu)",
                f"kafka://{LOOPBACK}:{broker_port}",
                {"type": "kafka", "bootstrap": f"{LOOPBACK}:{broker_port}"},
                service=broker,
                after=list(after_servers),
            )
        )
        # Embedded: the UI server starts after the bootstrap created the SQLite schema (no migration race).
        # Full: the app talks to this server, so it comes first.
        self._add(
            Component(
                "mlflow",
                "MLflow tracking + registry UI",
                mlflow_url,
                {"type": "http", "url": f"{mlflow_url}/health"},
                service=mlflow,
                after=after_servers if self.full else ["bootstrap"],
            )
        )
        self._add(
            Component(
                "bootstrap",
                "first model: best baseline as champion",
                job=True,
                required=False,
                service=self._child("bootstrap", _cli("pipeline", "bootstrap"), ready=lambda: True),
                after=["mlflow"] if self.full else list(after_servers),
            )
        )
        api = f"http://{LOOPBACK}:{s.api_port}"
        self._add(
            Component(
                "api",
                "REST API + UI + /graphql",
                f"{api}/",
                {"type": "http", "url": f"{api}/health"},
                service=self._child(
                    "api",
                    _cli("serve", "api"),
                    ready=lambda: health.check({"type": "http", "url": f"{api}/health"}).ok,
                ),
                after=["bootstrap"],
            )
        )
        gql = f"http://{LOOPBACK}:{s.graphql_port}/graphql"
        self._add(
            Component(
                "graphql",
                "standalone GraphQL",
                gql,
                {"type": "graphql", "url": gql},
                service=self._child(
                    "graphql",
                    _cli("serve", "graphql"),
                    ready=lambda: health.check({"type": "graphql", "url": gql}).ok,
                ),
                after=["bootstrap"],
            )
        )
        target = f"{LOOPBACK}:{s.grpc_port}"
        self._add(
            Component(
                "grpc",
                "gRPC crypto.CryptoService",
                f"grpc://{target}",
                {"type": "grpc", "target": target},
                service=self._child(
                    "grpc",
                    _cli("serve", "grpc"),
                    ready=lambda: health.check({"type": "grpc", "target": target}).ok,
                ),
                after=["bootstrap"],
            )
        )
        self._add(
            Component(
                "producer",
                f"price producer ({mode})",
                None,
                {"type": "process"},
                service=self._child("producer", _cli("stream", "produce", "--mode", mode)),
                after=["broker"],
            )
        )
        self._add(
            Component(
                "consumer",
                "stream consumer (predictions, alerts)",
                None,
                {"type": "process"},
                service=self._child("consumer", _cli("stream", "consume")),
                after=["broker", "bootstrap"],
            )
        )
        if self.full:
            self._plan_airflow(pg_url_airflow=self.components["postgres"].service.url("airflow"))
        if st.background_train:
            self._add(
                Component(
                    "trainer",
                    "background training (pipeline run)",
                    job=True,
                    required=False,
                    service=self._child("trainer", _cli("pipeline", "run"), ready=lambda: True),
                    after=["api"],
                )
            )

    def _plan_airflow(self, pg_url_airflow: str) -> None:
        port = self.stack.airflow_port
        home = self.home / "airflow"
        self.env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder(self.root)),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": pg_url_airflow,
                "AIRFLOW__API__HOST": LOOPBACK,
                "AIRFLOW__API__PORT": str(port),
                "AIRFLOW__API__BASE_URL": f"http://{LOOPBACK}:{port}",
            }
        )
        url = f"http://{LOOPBACK}:{port}"
        spec = {"type": "http", "url": f"{url}/api/v2/monitor/health"}
        self._add(
            Component(
                "airflow",
                "Airflow standalone (DAG crypto_ml_pipeline)",
                url,
                spec,
                service=self._child(
                    "airflow",
                    ["airflow", "standalone"],
                    ready=lambda: health.check(spec).ok,
                    cls=AirflowStandalone,
                    restore_sigint=True,
                ),
                after=["postgres", "mlflow"],
            )
        )
        self.notes.append(
            f"Airflow admin password: {home / 'simple_auth_manager_passwords.json.generated'}; "
            "its log server binds all interfaces on 8793 (Airflow hard-codes the host)"
        )

    def _start_postgres(self, pg: PostgresServer) -> None:
        pg.start(timeout=self.stack.start_timeout_s)
        for db in ("mlflow", "airflow", "cryptodb"):
            pg.create_database(db)
        self.env["DATABASE_URL"] = pg.url("cryptodb")

    def _start_s3(self, s3: SeaweedS3) -> None:
        s3.start(timeout=self.stack.start_timeout_s)
        for bucket in BUCKETS:
            s3.create_bucket(bucket)
        self.env.update(s3.env())
        self.env["MLFLOW_TRACKING_URI"] = f"http://{LOOPBACK}:{self.settings.mlflow_port}"

    # ---------------------------------------------------------------------------------- start
    def _port_in_use(self, component: Component) -> int | None:
        port = getattr(component.service, "port", None)
        spec = component.health_spec or {}
        if port is None and spec.get("type") in ("http", "graphql"):
            port = urlparse(spec["url"]).port
        if port is None and spec.get("type") == "grpc":
            port = int(spec["target"].rsplit(":", 1)[1])
        return port if port is not None and not is_port_free(port) else None

    def _start_one(self, component: Component) -> None:
        with self._lock:
            component.state = "starting"
        t0 = time.monotonic()
        try:
            busy = self._port_in_use(component)
            if busy is not None:
                raise ServiceError(f"port {busy} is already in use (another stack running? try `stack down`)")
            if component.start is not None:
                component.start()
            else:
                component.service.start(timeout=getattr(component.service, "timeout", self.stack.start_timeout_s))
        except Exception as exc:
            reason = str(exc).splitlines()
            log_tail = [line for line in reason[1:] if line.strip()][-1:]
            with self._lock:
                component.state = "failed"
                component.detail = "; ".join([reason[0][:160], *[t[:160] for t in log_tail]]) if reason else repr(exc)
            return
        with self._lock:
            component.seconds = None if component.job else round(time.monotonic() - t0, 1)
            component.state = "running" if component.job else "healthy"
            if component.health_spec and component.health_spec.get("type") == "process":
                component.health_spec["pid"] = component.pid
        self.write_state()

    def start_all(self) -> None:
        """Start components as their dependencies finish (in parallel where possible)."""
        pending = dict(self.components)
        with ThreadPoolExecutor(max_workers=len(pending) or 1) as pool:
            futures: dict[str, Any] = {}
            while pending or any(not f.done() for f in futures.values()):
                if self.stop_event.is_set():
                    # Ctrl-C while starting: kill what is still starting so its start() returns now.
                    for component in self.components.values():
                        if component.state == "starting" and component.service is not None:
                            with contextlib.suppress(Exception):
                                component.service.stop(timeout=5.0)
                    break
                for name, component in list(pending.items()):
                    deps = [self.components[d] for d in component.after if d in self.components]
                    # A server dependency is settled once healthy or failed, a job once it ended.
                    if any(
                        d.state in (("pending", "starting", "running") if d.job else ("pending", "starting"))
                        for d in deps
                    ):
                        continue
                    del pending[name]
                    failed = [d.name for d in deps if d.state == "failed" and d.required]
                    if failed:
                        component.state = "failed"
                        component.detail = f"not started: {', '.join(failed)} failed"
                        continue
                    futures[name] = pool.submit(self._start_one, component)
                    self.write_state()
                time.sleep(0.1)
                self._refresh_jobs()
        self.write_state()

    # ------------------------------------------------------------------------------ watching
    def _refresh_jobs(self) -> None:
        for component in self.components.values():
            service = component.service
            if not component.job or component.state != "running" or not isinstance(service, ChildProcess):
                continue
            rc = service.returncode()
            if rc is None:
                continue
            with self._lock:
                component.state = "done" if rc == 0 else "failed"
                component.detail = _last_line(service.log_path) or f"exit code {rc}"
                component.seconds = round(time.monotonic() - service.started_monotonic, 1)
            self.write_state()

    def _watch_servers(self) -> None:
        for component in self.components.values():
            if component.job or component.state != "healthy":
                continue
            service = component.service
            if service is not None and hasattr(service, "running") and not service.running():
                with self._lock:
                    component.state = "failed"
                    component.detail = f"exited: {_last_line(service.log_path)}"
                self.console.print(f"[red]✗ {component.name} stopped unexpectedly[/]: {component.detail}")
                self.write_state()

    def all_healthy(self) -> bool:
        return all(c.state == "healthy" for c in self.components.values() if c.required)

    # ------------------------------------------------------------------------------ state file
    @property
    def state_path(self) -> Path:
        return self.home / "state.json"

    def write_state(self) -> None:
        with self._lock:
            state = {
                "supervisor_pid": os.getpid(),
                "full": self.full,
                "started_at": self.started_at,
                "healthy_after_s": self.healthy_after,
                "notes": self.notes,
                "logs": str(self.logs),
                "components": [
                    {
                        "name": c.name,
                        "role": c.role,
                        "url": c.url,
                        "health": c.health_spec,
                        "required": c.required,
                        "job": c.job,
                        "state": c.state,
                        "detail": c.detail,
                        "pid": c.pid,
                        "seconds": c.seconds,
                        "log": str(self.logs / f"{c.name}.log"),
                    }
                    for c in self.components.values()
                ],
            }
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_path)

    # ---------------------------------------------------------------------------------- stop
    def stop_all(self) -> list[int]:
        """Stop every child (reverse start order), then make sure no descendant survives."""
        descendants = {p.pid for p in psutil.Process().children(recursive=True)}
        for component in reversed(list(self.components.values())):
            service = component.service
            if service is None:
                continue
            with contextlib.suppress(Exception):
                service.stop(timeout=20.0 if component.name == "airflow" else 10.0)
            if component.state not in ("failed",):
                component.state = "stopped"
        survivors = _kill_leftovers(descendants)
        self.write_state()
        return survivors

    # ----------------------------------------------------------------------------------- run
    def run(self) -> int:
        """`stack up`: start, print the table, wait for Ctrl-C / `stack down`, stop everything."""
        existing = read_state(self.home)
        if (
            existing
            and psutil.pid_exists(existing.get("supervisor_pid", -1))
            and existing.get("supervisor_pid") != os.getpid()
        ):
            self.console.print(
                f"[red]a stack is already running[/] (supervisor pid {existing['supervisor_pid']}); "
                "`crypto-mlops stack down` stops it"
            )
            return 1
        self.logs.mkdir(parents=True, exist_ok=True)
        previous = {
            sig: signal.signal(sig, lambda *_: self.stop_event.set()) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        t0 = time.monotonic()
        try:
            with self.console.status("planning the stack (probing the exchange)..."):
                self.plan()
            for note in self.notes:
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
            self.console.print(status_table(read_state(self.home) or {}))
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
                self._refresh_jobs()
                self._watch_servers()
        finally:
            self.console.print("stopping the stack...")
            survivors = self.stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if survivors:
                self.console.print(f"[red]killed leftover processes {survivors}[/]")
            self.console.print("[green]stack stopped; no child process left[/]")
            with contextlib.suppress(OSError):
                self.state_path.unlink()
        return 0 if self.healthy_after is not None else 1


def _last_line(path: Path) -> str:
    try:
        # The last line that says something (not a rich box border or an empty line).
        lines = [
            line.strip(" │|")
            for line in path.read_text(errors="replace").splitlines()
            if any(ch.isalnum() for ch in line)
        ]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def _kill_leftovers(pids: set[int], timeout: float = 5.0) -> list[int]:
    """TERM, then KILL, whatever of `pids` is still alive; returns the PIDs that had to be killed."""
    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(pid)
            if proc.status() != psutil.STATUS_ZOMBIE:
                procs.append(proc)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    return [p.pid for p in procs]


# ------------------------------------------------------------------------ other shells' commands
def read_state(home: Path) -> dict[str, Any] | None:
    path = home / "state.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return state


def default_components(settings: Settings) -> list[dict[str, Any]]:
    """What an embedded stack would run, for `stack health`/`urls` when no state file exists."""
    s = settings
    api = f"http://{LOOPBACK}:{s.api_port}"
    gql = f"http://{LOOPBACK}:{s.graphql_port}/graphql"
    mlflow = f"http://{LOOPBACK}:{s.mlflow_port}"
    broker = f"{LOOPBACK}:{_port_of(s.kafka_bootstrap_servers)}"
    return [
        {
            "name": "api",
            "role": "REST API + UI + /graphql",
            "url": f"{api}/",
            "health": {"type": "http", "url": f"{api}/health"},
            "required": True,
        },
        {
            "name": "graphql",
            "role": "standalone GraphQL",
            "url": gql,
            "health": {"type": "graphql", "url": gql},
            "required": True,
        },
        {
            "name": "grpc",
            "role": "gRPC crypto.CryptoService",
            "url": f"grpc://{LOOPBACK}:{s.grpc_port}",
            "health": {"type": "grpc", "target": f"{LOOPBACK}:{s.grpc_port}"},
            "required": True,
        },
        {
            "name": "mlflow",
            "role": "MLflow UI",
            "url": mlflow,
            "health": {"type": "http", "url": f"{mlflow}/health"},
            "required": True,
        },
        {
            "name": "broker",
            "role": "Kafka-protocol broker",
            "url": f"kafka://{broker}",
            "health": {"type": "kafka", "bootstrap": broker},
            "required": True,
        },
    ]


def probe(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Probe every component now (in parallel); jobs report their recorded state."""

    def one(component: dict[str, Any]) -> dict[str, Any]:
        spec = component.get("health")
        out = dict(component)
        if component.get("job") or not spec:
            out["ok"] = component.get("state") in ("running", "done")
            out["probe"] = component.get("detail") or component.get("state", "")
            return out
        if spec.get("type") == "process" and not spec.get("pid"):
            out["ok"], out["probe"] = False, component.get("detail") or "not started"
            return out
        if spec.get("type") == "tcp":
            from crypto_mlops.stack.ports import port_open

            ok = port_open(int(spec["port"]))
            out["ok"], out["probe"] = ok, "port open" if ok else "port closed"
            return out
        result = health.check(spec)
        out["ok"], out["probe"], out["latency_ms"] = result.ok, result.detail, result.latency_ms
        return out

    with ThreadPoolExecutor(max_workers=max(1, len(components))) as pool:
        return list(pool.map(one, components))


def status_table(state: dict[str, Any], probe_now: list[dict[str, Any]] | None = None) -> Table:
    """The one status table: component, state, URL, PID, start time and detail."""
    components = probe_now if probe_now is not None else state.get("components", [])
    table = Table(title="crypto-mlops stack" + (" (full)" if state.get("full") else ""), show_lines=False)
    for column in ("component", "state", "url", "pid", "ready in", "detail"):
        table.add_column(column, overflow="fold")
    colours = {
        "healthy": "green",
        "running": "cyan",
        "done": "green",
        "failed": "red",
        "starting": "yellow",
        "pending": "yellow",
        "stopped": "dim",
        "unhealthy": "red",
    }
    for c in components:
        state_text = c.get("state", "")
        if "ok" in c and not c.get("job"):
            state_text = "healthy" if c["ok"] else "unhealthy"
        detail = c.get("probe") if "probe" in c else c.get("detail", "")
        if c.get("job") and not c.get("required"):
            detail = f"(background) {detail}"
        colour = colours.get(state_text, "white")
        seconds = c.get("seconds")
        table.add_row(
            c["name"],
            f"[{colour}]{state_text}[/]",
            c.get("url") or "",
            str(c.get("pid") or ""),
            f"{seconds} s" if seconds is not None else "",
            str(detail or ""),
        )
    return table


def stop_running_stack(home: Path, timeout: float = 90.0) -> tuple[bool, list[int]]:
    """`stack down`: ask the supervisor to stop (SIGTERM), then kill what is left of its children."""
    state = read_state(home)
    if state is None:
        return False, []
    pid = int(state.get("supervisor_pid", -1))
    child_pids = {int(c["pid"]) for c in state.get("components", []) if c.get("pid")}
    if psutil.pid_exists(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while psutil.pid_exists(pid) and time.monotonic() < deadline:
            with contextlib.suppress(psutil.Error):
                if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                    break
            time.sleep(0.2)
    leftovers: set[int] = set()
    for child in child_pids:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(child)
            leftovers |= {child, *(p.pid for p in proc.children(recursive=True))}
    for child in list(leftovers):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child, signal.SIGTERM)
    killed = _kill_leftovers(leftovers)
    with contextlib.suppress(OSError):
        (home / "state.json").unlink()
    return True, killed
