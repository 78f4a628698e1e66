"""The stack, declared once: every component with its process, port, dependencies and health check.

Embedded (default, no Docker, works offline):
    tansu broker -> bootstrap (a champion exists: the best baseline at once) -> API/UI/GraphQL,
    standalone GraphQL and gRPC (one process by default, STACK_SERVING), MLflow UI (SQLite + local
    artifacts), producer, consumer
    -> background trainer (`crypto-mlops pipeline run`: trains the learned model, gates, reloads the API).
Full (`--full`): PostgreSQL + SeaweedFS S3 first, MLflow on PostgreSQL + S3, the broker on S3
storage, the app on PostgreSQL/S3, and Airflow standalone with the DAG.

`component_specs(context)` is read by the supervisor (to start the stack) and by `stack health`
and `stack urls` when no stack runs (to probe the default ports): one list, no second copy.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from crypto_mlops.config import Settings, StackSettings
from crypto_mlops.stack.airflow_standalone import (
    AirflowStandalone,
    airflow_env,
    airflow_health,
    airflow_url,
    dags_folder,
)
from crypto_mlops.stack.child import ChildProcess, cli_command
from crypto_mlops.stack.component import ComponentSpec
from crypto_mlops.stack.endpoint import ServingProcess, SharedEndpoint
from crypto_mlops.stack.exchange import exchange_reachable
from crypto_mlops.stack.health import HealthKind, HealthSpec, check
from crypto_mlops.stack.mlflow_server import MlflowServer, schema_ready, sqlite_path
from crypto_mlops.stack.ports import LOOPBACK
from crypto_mlops.stack.postgres import PostgresServer
from crypto_mlops.stack.process import ManagedProcess
from crypto_mlops.stack.seaweed import SeaweedS3
from crypto_mlops.stack.tansu import TansuBroker

BUCKETS = ("raw-data", "processed-data", "quality-reports", "models", "mlflow", "tansu")
DATABASES = ("mlflow", "airflow", "cryptodb")
STORAGE = ("postgres", "seaweedfs")  # full mode: the servers that keep everyone's data
ProducerMode = Literal["live", "simulate"]
ServingMode = Literal["one", "split"]


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


def _always_ready() -> bool:
    return True


def _probe_passes(spec: HealthSpec) -> Callable[[], bool]:
    return lambda: check(spec).ok


def _ours(
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
) -> ComponentSpec:
    """A component that runs one of our own CLI commands: a server with a probe, a worker or a job.

    A job counts as started once launched (the supervisor watches it end); a worker (process
    check) once it survived a few seconds; a server once its probe passes.
    """
    ready: Callable[[], bool] | None = None
    if job:
        ready = _always_ready
    elif health is not None and health.kind is not HealthKind.PROCESS:
        ready = _probe_passes(health)

    def build() -> ManagedProcess:
        return ChildProcess(name, cli_command(*args), ctx.env, ctx.log(name), ready=ready)

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


def _storage(ctx: StackContext) -> tuple[PostgresServer, SeaweedS3, list[ComponentSpec]]:
    """Full mode: PostgreSQL and S3 come first; MLflow, the broker and the app keep their data there."""
    st, data = ctx.stack, ctx.home / "data"
    pg = PostgresServer(data / "postgres", port=st.postgres_port, log_path=ctx.log("postgres"))
    s3 = SeaweedS3(
        data / "s3",
        port=st.s3_port,
        access_key=st.s3_access_key,
        secret_key=st.s3_secret_key,
        buckets=BUCKETS,
        log_path=ctx.log("seaweedfs"),
    )

    def postgres_ready() -> None:
        for db in DATABASES:
            pg.create_database(db)
        ctx.env["DATABASE_URL"] = pg.url("cryptodb")

    def s3_ready() -> None:
        for bucket in BUCKETS:
            s3.create_bucket(bucket)
        ctx.env.update(s3.env())
        ctx.env["MLFLOW_TRACKING_URI"] = f"http://{LOOPBACK}:{ctx.settings.mlflow_port}"

    postgres = ComponentSpec(
        "postgres",
        "PostgreSQL (MLflow, Airflow, history)",
        f"postgresql://{LOOPBACK}:{pg.port}",
        pg.port,
        HealthSpec.tcp(pg.port),
        build=lambda: pg,
        on_ready=postgres_ready,
    )
    seaweed = ComponentSpec(
        "seaweedfs",
        "S3 buckets (SeaweedFS)",
        s3.endpoint_url,
        s3.port,
        HealthSpec.tcp(s3.port),
        build=lambda: s3,
        on_ready=s3_ready,
    )
    return pg, s3, [postgres, seaweed]


def _broker(ctx: StackContext, s3: SeaweedS3 | None) -> ComponentSpec:
    """Memory storage embedded; full mode keeps the topics in the S3 bucket `tansu`."""
    bootstrap = f"{LOOPBACK}:{ctx.broker_port}"

    def build() -> ManagedProcess:
        storage, env = ("s3://tansu/", s3.env()) if s3 is not None else ("memory://tansu/", {})
        return TansuBroker(ctx.broker_port, storage=storage, env=env, log_path=ctx.log("broker"))

    return ComponentSpec(
        "broker",
        "Kafka-protocol broker (tansu)",
        f"kafka://{bootstrap}",
        ctx.broker_port,
        HealthSpec(HealthKind.KAFKA, bootstrap),
        depends_on=STORAGE if s3 is not None else (),
        build=build,
    )


def _mlflow(
    ctx: StackContext, pg: PostgresServer | None, s3: SeaweedS3 | None, bootstrap_ended: Callable[[], bool]
) -> ComponentSpec:
    """Embedded: SQLite + local artifacts. It starts with the stack but launches once the bootstrap has
    created the schema (no migration race), not once the bootstrap is done: the server's ~20 s start
    then overlaps the bootstrap's model fitting. Full: PostgreSQL + S3, started first because the app
    talks to it."""
    s = ctx.settings
    url = f"http://{LOOPBACK}:{s.mlflow_port}"
    db = None if ctx.full else sqlite_path(s.mlflow_tracking_uri, ctx.root)

    def schema_created() -> bool:
        return (db is not None and schema_ready(db)) or bootstrap_ended()

    def build() -> ManagedProcess:
        if pg is not None and s3 is not None:
            backend, artifacts, env = pg.url("mlflow"), "s3://mlflow/artifacts", s3.env()
        else:
            tracking = s.mlflow_tracking_uri
            backend = tracking if tracking.startswith("sqlite:") else f"sqlite:///{ctx.root / 'mlflow.db'}"
            artifacts, env = str(ctx.root / "mlartifacts"), {}
        log = ctx.log("mlflow")
        wait = schema_created if db is not None else None
        return MlflowServer(
            s.mlflow_port, backend_uri=backend, artifacts_destination=artifacts, env=env, log_path=log, wait_for=wait
        )

    return ComponentSpec(
        "mlflow",
        "MLflow tracking + registry UI",
        url,
        s.mlflow_port,
        HealthSpec(HealthKind.HTTP, f"{url}/health"),
        depends_on=STORAGE if ctx.full else () if db is not None else ("bootstrap",),
        build=build,
    )


def _airflow(ctx: StackContext, pg: PostgresServer) -> ComponentSpec:
    port = ctx.stack.airflow_port
    home = ctx.home / "airflow"
    ctx.env.update(airflow_env(home, port, pg.url("airflow"), dags_folder(ctx.root)))
    ctx.notes.append(
        f"Airflow admin password: {home / 'simple_auth_manager_passwords.json.generated'}; "
        "its log server binds all interfaces on 8793 (Airflow hard-codes the host)"
    )
    return ComponentSpec(
        "airflow",
        "Airflow standalone (DAG crypto_ml_pipeline)",
        airflow_url(port),
        port,
        airflow_health(port),
        depends_on=("postgres", "mlflow"),
        stop_timeout=20.0,  # it stops ~12 children of its own
        build=lambda: AirflowStandalone(port, ctx.env, ctx.log("airflow")),
    )


def serving_mode(ctx: StackContext) -> ServingMode:
    """STACK_SERVING, except that API_WORKERS > 1 needs REST in its own (multi-worker) process."""
    if ctx.stack.serving == "one" and ctx.settings.api_workers > 1:
        return "split"
    return ctx.stack.serving


def _servers(ctx: StackContext) -> list[ComponentSpec]:
    """REST (+ UI, /graphql), standalone GraphQL and gRPC: one process (`serve all`) or one each.

    Either way each port is a component with its own probe; they start once a champion exists, so
    the first request already has a model.
    """
    s = ctx.settings
    api = f"http://{LOOPBACK}:{s.api_port}"
    gql = f"http://{LOOPBACK}:{s.graphql_port}/graphql"
    grpc = f"{LOOPBACK}:{s.grpc_port}"
    servers = (
        ("api", "REST API + UI + /graphql", HealthSpec(HealthKind.HTTP, f"{api}/health"), f"{api}/"),
        ("graphql", "standalone GraphQL", HealthSpec(HealthKind.GRAPHQL, gql), gql),
        ("grpc", "gRPC crypto.CryptoService", HealthSpec(HealthKind.GRPC, grpc), f"grpc://{grpc}"),
    )
    if serving_mode(ctx) == "split":  # `serve NAME` each
        return [
            _ours(ctx, name, role, ("serve", name), health=probe, url=url, depends_on=("bootstrap",))
            for name, role, probe, url in servers
        ]
    (_, api_role, api_probe, api_url), *others = servers
    host: list[ManagedProcess] = []  # the `serve all` process of the current plan

    def build_host() -> ManagedProcess:
        ports = (s.graphql_port, s.grpc_port)
        process = ServingProcess(
            "api", cli_command("serve", "all"), ctx.env, ctx.log("api"), _probe_passes(api_probe), ports
        )
        host[:] = [process]
        return process

    specs = [
        ComponentSpec(
            "api",
            f"{api_role}; GraphQL and gRPC in the same process",
            api_url,
            s.api_port,
            api_probe,
            depends_on=("bootstrap",),
            build=build_host,
        )
    ]
    for name, role, probe, url in others:

        def build_endpoint(name: str = name, probe: HealthSpec = probe) -> ManagedProcess:
            return SharedEndpoint(name, lambda: host[0] if host else None, _probe_passes(probe), ctx.log(name), "api")

        # No port of its own to check (the api process holds it); it follows the api process's restarts.
        specs.append(
            ComponentSpec(
                name,
                f"{role} (in the api process)",
                url,
                None,
                probe,
                depends_on=("api",),
                restart_after=("api",),
                build=build_endpoint,
            )
        )
    return specs


def component_specs(ctx: StackContext) -> list[ComponentSpec]:
    """Every component of the stack in start order (dependencies decide what actually waits)."""
    pg: PostgresServer | None = None
    s3: SeaweedS3 | None = None
    specs: list[ComponentSpec] = []
    if ctx.full:
        pg, s3, specs = _storage(ctx)
    bootstrap = _ours(
        ctx,
        "bootstrap",
        "first model: best baseline as champion",
        ("pipeline", "bootstrap"),
        depends_on=("mlflow",) if ctx.full else (),
        job=True,
    )
    launched: list[ManagedProcess] = []  # the bootstrap's process of the current plan

    build_job = bootstrap.build

    def build_bootstrap() -> ManagedProcess:
        assert build_job is not None
        launched[:] = [build_job()]
        return launched[0]

    def bootstrap_ended() -> bool:
        return bool(launched) and launched[0].returncode() is not None

    specs += [_broker(ctx, s3), _mlflow(ctx, pg, s3, bootstrap_ended), replace(bootstrap, build=build_bootstrap)]
    specs += _servers(ctx)
    mode = ctx.producer_mode
    workers = (
        ("producer", f"price producer ({mode})", ("stream", "produce", "--mode", mode), ("broker",)),
        ("consumer", "stream consumer (predictions, alerts)", ("stream", "consume"), ("broker", "bootstrap")),
    )
    for name, role, args, after in workers:
        # The producer rides out a broker restart in its buffer; the consumer starts over with the
        # broker (an in-memory broker forgets its group's offsets, the old positions would skip ticks).
        again = ("broker",) if name == "consumer" else ()
        process = HealthSpec.process()
        specs.append(_ours(ctx, name, role, args, health=process, depends_on=after, restart_after=again))
    if pg is not None:
        specs.append(_airflow(ctx, pg))
    if ctx.stack.background_train:
        trainer = ("trainer", "background training (pipeline run)", ("pipeline", "run"))
        specs.append(_ours(ctx, *trainer, depends_on=("api",), job=True))
    return specs
