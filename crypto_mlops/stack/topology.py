"""The stack, declared once: every component with its process, port, dependencies and health check.

Embedded (default, no Docker, works offline):
    tansu broker, bootstrap (a champion exists: the best baseline at once) and beside it
    API/UI/GraphQL + standalone GraphQL + gRPC (one process by default, serving.py; ready once the
    champion is loaded), MLflow UI (SQLite + local artifacts, once the bootstrap made the schema),
    producer, consumer
    -> background trainer (`crypto-mlops pipeline run`: trains the learned model, gates, reloads the API).
Full (`--full`): PostgreSQL + SeaweedFS S3 first, MLflow on PostgreSQL + S3, the broker on S3
storage, the app on PostgreSQL/S3, and Airflow standalone with the DAG.

`component_specs(context)` is read by the supervisor (to start the stack) and by `stack health`
and `stack urls` when no stack runs (to probe the default ports): one list, no second copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from crypto_mlops.stack.airflow_standalone import (
    AirflowStandalone,
    airflow_env,
    airflow_health,
    airflow_url,
    dags_folder,
)
from crypto_mlops.stack.component import ComponentSpec
from crypto_mlops.stack.context import ProducerMode, StackContext, ours, prepare_context
from crypto_mlops.stack.health import HealthKind, HealthSpec
from crypto_mlops.stack.mlflow_server import MlflowServer, alias_set, schema_ready, sqlite_path
from crypto_mlops.stack.ports import LOOPBACK
from crypto_mlops.stack.postgres import PostgresServer
from crypto_mlops.stack.process import ManagedProcess
from crypto_mlops.stack.seaweed import SeaweedS3
from crypto_mlops.stack.serving import ServingMode, serving_mode, serving_specs
from crypto_mlops.stack.tansu import TansuBroker

__all__ = [
    "ProducerMode",
    "ServingMode",
    "StackContext",
    "component_specs",
    "prepare_context",
    "serving_mode",
]

BUCKETS = ("raw-data", "processed-data", "quality-reports", "models", "mlflow", "tansu")
DATABASES = ("mlflow", "airflow", "cryptodb")
STORAGE = ("postgres", "seaweedfs")  # full mode: the servers that keep everyone's data


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


def component_specs(ctx: StackContext) -> list[ComponentSpec]:
    """Every component of the stack in start order (dependencies decide what actually waits)."""
    pg: PostgresServer | None = None
    s3: SeaweedS3 | None = None
    specs: list[ComponentSpec] = []
    if ctx.full:
        pg, s3, specs = _storage(ctx)
    # With the background trainer, the bootstrap fits only the quick baselines: the trainer's
    # `pipeline run` compares every baseline soon after and promotes the best through the gate.
    quick = ("--quick",) if ctx.stack.background_train else ()
    bootstrap = ours(
        ctx,
        "bootstrap",
        "first model: best baseline as champion",
        ("pipeline", "bootstrap", *quick),
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
    specs += serving_specs(ctx)
    mode = ctx.producer_mode
    # The consumer loads the champion at start. Embedded, it starts as soon as the bootstrap has moved the
    # `champion` alias (the last thing a promotion does), not once the bootstrap process has exited and
    # printed its summary; full mode (PostgreSQL registry): once the bootstrap has ended, as before.
    db = None if ctx.full else sqlite_path(ctx.settings.mlflow_tracking_uri, ctx.root)
    consumer_after: tuple[str, ...] = ("broker", "bootstrap") if db is None else ("broker",)

    def champion_or_bootstrap_ended() -> bool:
        s = ctx.settings
        return (db is not None and alias_set(db, s.model_name, s.model_alias)) or bootstrap_ended()

    workers = (
        ("producer", f"price producer ({mode})", ("stream", "produce", "--mode", mode), ("broker",), None),
        (
            "consumer",
            "stream consumer (predictions, alerts)",
            ("stream", "consume"),
            consumer_after,
            None if db is None else champion_or_bootstrap_ended,
        ),
    )
    for name, role, args, after, wait in workers:
        # The producer rides out a broker restart in its buffer; the consumer starts over with the
        # broker (an in-memory broker forgets its group's offsets, the old positions would skip ticks).
        again = ("broker",) if name == "consumer" else ()
        process = HealthSpec.process()
        specs.append(ours(ctx, name, role, args, health=process, depends_on=after, restart_after=again, wait_for=wait))
    if pg is not None:
        specs.append(_airflow(ctx, pg))
    if ctx.stack.background_train:
        trainer = ("trainer", "background training (pipeline run)", ("pipeline", "run"))
        # After the bootstrap, and once the stack is up: its imports and fits must not slow the start.
        specs.append(ours(ctx, *trainer, depends_on=("bootstrap", "api", "consumer"), job=True))
    return specs
