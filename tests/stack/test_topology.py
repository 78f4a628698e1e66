"""The one component list: what the supervisor starts and what `stack health` probes come from it."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from crypto_mlops.config import Settings, StackSettings
from crypto_mlops.stack.child import ChildProcess
from crypto_mlops.stack.component import Component, ComponentState
from crypto_mlops.stack.endpoint import ServingProcess, SharedEndpoint
from crypto_mlops.stack.health import HealthKind, HealthSpec
from crypto_mlops.stack.mlflow_server import MlflowServer, alias_set, schema_ready, sqlite_path
from crypto_mlops.stack.ports import wait_until
from crypto_mlops.stack.statefile import read_state, write_state
from crypto_mlops.stack.status import default_components
from crypto_mlops.stack.topology import StackContext, component_specs, serving_mode


def _context(tmp_path: Path, full: bool = False, train: bool = True) -> StackContext:
    # The store named explicitly: an earlier test in the same session may have left MLFLOW_TRACKING_URI set.
    settings = Settings(
        API_PORT=18800,
        GRAPHQL_PORT=14000,
        GRPC_PORT=15051,
        MLFLOW_PORT=15000,
        MLFLOW_TRACKING_URI="sqlite:///mlflow.db",
    )
    settings.kafka_bootstrap_servers = "127.0.0.1:19092"
    stack = StackSettings(home=tmp_path / ".stack", background_train=train, postgres_port=15433, s3_port=18333)
    return StackContext(settings, stack, tmp_path, full)


def test_embedded_components_and_their_order(tmp_path: Path) -> None:
    specs = {s.name: s for s in component_specs(_context(tmp_path))}
    assert list(specs) == ["broker", "mlflow", "bootstrap", "api", "graphql", "grpc", "producer", "consumer", "trainer"]
    # One serving process (`serve all`) starts beside the bootstrap and waits for its champion itself
    # (test_one_serving_process_by_default); its readiness still needs the champion loaded.
    assert specs["api"].depends_on == () and specs["api"].port == 18800
    assert specs["api"].health == HealthSpec(HealthKind.HTTP, "http://127.0.0.1:18800/health")
    # Embedded: SQLite schema first. The server waits for the bootstrap's schema, not for the bootstrap's end.
    assert specs["mlflow"].depends_on == ()
    mlflow = specs["mlflow"].build() if specs["mlflow"].build else None
    assert isinstance(mlflow, MlflowServer) and mlflow.wait_for is not None and not mlflow.wait_for()
    assert specs["broker"].health == HealthSpec(HealthKind.KAFKA, "127.0.0.1:19092")
    assert specs["bootstrap"].job and not specs["bootstrap"].required
    # The API may be ready a moment before the bootstrap ends; the trainer also waits for the stack to be up
    # (the consumer is the last to become healthy) so that its imports and fits do not slow the start.
    assert specs["trainer"].depends_on == ("bootstrap", "api", "consumer")
    # With a trainer, the bootstrap fits only the quick baselines (the trainer compares the rest).
    bootstrap = specs["bootstrap"].build() if specs["bootstrap"].build else None
    assert bootstrap is not None and bootstrap.command()[-3:] == ["pipeline", "bootstrap", "--quick"]
    no_trainer = {s.name: s for s in component_specs(_context(tmp_path, train=False))}
    job = no_trainer["bootstrap"].build() if no_trainer["bootstrap"].build else None
    assert job is not None and job.command()[-2:] == ["pipeline", "bootstrap"] and "trainer" not in no_trainer
    assert specs["producer"].health is not None and specs["producer"].health.kind is HealthKind.PROCESS
    for spec in specs.values():
        assert set(spec.depends_on) <= set(specs), spec.name


def test_one_serving_process_by_default(tmp_path: Path) -> None:
    """STACK_SERVING=one: the api component runs `serve all`; graphql and grpc are its ports, still probed."""
    specs = {s.name: s for s in component_specs(_context(tmp_path))}
    api = specs["api"].build() if specs["api"].build else None
    assert isinstance(api, ServingProcess) and api.command()[-4:] == ["serve", "all", "--wait-for-champion", "90"]
    assert set(api.ports) == {14000, 15051}  # checked free before the one process binds them
    for name, probe in (("graphql", HealthKind.GRAPHQL), ("grpc", HealthKind.GRPC)):
        spec = specs[name]
        assert spec.depends_on == ("api",) and spec.restart_after == ("api",) and spec.port is None
        assert spec.health is not None and spec.health.kind is probe and spec.required
        endpoint = spec.build() if spec.build else None
        assert isinstance(endpoint, SharedEndpoint) and endpoint.pid is None  # the api process is not running
    assert specs["grpc"].health == HealthSpec(HealthKind.GRPC, "127.0.0.1:15051")


@pytest.mark.parametrize("split", [{"serving": "split"}, {"workers": 2}])
def test_split_serving_runs_a_process_per_server(tmp_path: Path, split: dict[str, object]) -> None:
    """STACK_SERVING=split, or API_WORKERS > 1 (REST in its own N-worker process): `serve NAME` each."""
    ctx = _context(tmp_path)
    if "serving" in split:
        ctx.stack.serving = "split"
    else:
        ctx.settings.api_workers = 2
    assert serving_mode(ctx) == "split"
    specs = {s.name: s for s in component_specs(ctx)}
    assert list(specs) == ["broker", "mlflow", "bootstrap", "api", "graphql", "grpc", "producer", "consumer", "trainer"]
    for name, port in (("api", 18800), ("graphql", 14000), ("grpc", 15051)):
        spec = specs[name]
        assert spec.depends_on == ("bootstrap",) and spec.port == port
        process = spec.build() if spec.build else None
        assert process is not None and process.command()[-2:] == ["serve", name]


def test_mlflow_waits_for_the_schema_or_the_end_of_the_bootstrap(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    ctx.settings.mlflow_tracking_uri = "sqlite:///mlflow.db"  # relative: from the stack's root
    specs = {s.name: s for s in component_specs(ctx)}
    mlflow = specs["mlflow"].build() if specs["mlflow"].build else None
    assert isinstance(mlflow, MlflowServer) and mlflow.wait_for is not None
    db = sqlite_path(ctx.settings.mlflow_tracking_uri, tmp_path)
    assert db == tmp_path / "mlflow.db" and not mlflow.wait_for()
    with sqlite3.connect(db) as conn:  # tables half made: not yet
        conn.execute("CREATE TABLE experiments (experiment_id INTEGER, name TEXT)")
    assert not schema_ready(db) and not mlflow.wait_for()
    with sqlite3.connect(db) as conn:  # MLflow writes the default experiment after its migrations
        conn.execute("INSERT INTO experiments VALUES (0, 'Default')")
    assert schema_ready(db) and mlflow.wait_for()
    # A bootstrap that ended (even before making the schema) releases the server too.
    other = {s.name: s for s in component_specs(_context(tmp_path / "other"))}
    server, job = (other[n].build() if other[n].build else None for n in ("mlflow", "bootstrap"))
    assert isinstance(server, MlflowServer) and server.wait_for is not None and job is not None
    assert not server.wait_for()
    assert isinstance(job, ChildProcess)
    job._command = [sys.executable, "-c", "raise SystemExit(1)"]  # a bootstrap that fails at once
    job.start(timeout=30)
    wait_until(lambda: job.returncode() is not None, 30, "bootstrap")
    assert server.wait_for()
    assert sqlite_path("postgresql://x/mlflow", tmp_path) is None


def test_consumer_starts_once_the_champion_alias_exists_or_the_bootstrap_ended(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    ctx.settings.mlflow_tracking_uri = "sqlite:///mlflow.db"
    specs = {s.name: s for s in component_specs(ctx)}
    assert specs["consumer"].depends_on == ("broker",)  # not the bootstrap's exit: its champion
    consumer = specs["consumer"].build() if specs["consumer"].build else None
    assert isinstance(consumer, ChildProcess) and consumer.wait_for is not None and not consumer.wait_for()
    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE registered_model_aliases (alias TEXT, version INTEGER, name TEXT)")
        conn.execute("INSERT INTO registered_model_aliases VALUES ('champion-btcusdt', 1, 'crypto-predictor')")
    # Only the global alias counts: a promotion moves it last.
    assert not alias_set(db, "crypto-predictor", "champion") and not consumer.wait_for()
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO registered_model_aliases VALUES ('champion', 1, 'crypto-predictor')")
    assert alias_set(db, "crypto-predictor", "champion") and consumer.wait_for()
    assert not alias_set(tmp_path / "none.db", "crypto-predictor", "champion")
    # A bootstrap that ended without a champion releases it too (it then starts as it always did).
    other = {s.name: s for s in component_specs(_context(tmp_path / "other"))}
    waiting, job = (other[n].build() if other[n].build else None for n in ("consumer", "bootstrap"))
    assert isinstance(waiting, ChildProcess) and waiting.wait_for is not None and isinstance(job, ChildProcess)
    assert not waiting.wait_for()
    job._command = [sys.executable, "-c", "raise SystemExit(1)"]
    job.start(timeout=30)
    wait_until(lambda: job.returncode() is not None, 30, "bootstrap")
    assert waiting.wait_for()
    # Full mode (PostgreSQL registry): after the bootstrap's end, as before.
    full = {s.name: s for s in component_specs(_context(tmp_path / "full", full=True))}
    assert full["consumer"].depends_on == ("broker", "bootstrap")


def test_full_mode_adds_storage_and_airflow(tmp_path: Path) -> None:
    ctx = _context(tmp_path, full=True, train=False)
    specs = {s.name: s for s in component_specs(ctx)}
    assert list(specs)[:2] == ["postgres", "seaweedfs"] and "airflow" in specs and "trainer" not in specs
    api = specs["api"].build() if specs["api"].build else None  # after the storage: it needs their addresses
    assert specs["api"].depends_on == ("bootstrap",) and api is not None and api.command()[-2:] == ["serve", "all"]
    assert specs["mlflow"].depends_on == ("postgres", "seaweedfs")
    assert specs["bootstrap"].depends_on == ("mlflow",)
    assert specs["postgres"].health == HealthSpec.tcp(15433)
    assert ctx.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
    mlflow = specs["mlflow"].build() if specs["mlflow"].build else None
    assert mlflow is not None and "postgresql+psycopg://" in " ".join(mlflow.command())


def test_status_defaults_come_from_the_same_list(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    records = default_components(ctx.settings, ctx.stack, tmp_path)
    assert [r["name"] for r in records] == ["broker", "mlflow", "api", "graphql", "grpc"]
    by_name = {s.name: s for s in component_specs(ctx)}
    for record in records:
        spec = by_name[record["name"]]
        assert record["url"] == spec.url and record["role"] == spec.role
        assert spec.health is not None and record["health"] == spec.health.to_dict()


@pytest.mark.parametrize(
    "spec",
    [
        HealthSpec(HealthKind.HTTP, "http://127.0.0.1:1/health"),
        HealthSpec(HealthKind.GRAPHQL, "http://127.0.0.1:1/graphql"),
        HealthSpec(HealthKind.GRPC, "127.0.0.1:2"),
        HealthSpec(HealthKind.KAFKA, "127.0.0.1:3"),
        HealthSpec.tcp(4),
        HealthSpec.process(1234),
        HealthSpec(HealthKind.HTTP, "http://127.0.0.1:5/", timeout=1.5),
    ],
)
def test_health_specs_survive_the_state_file(spec: HealthSpec) -> None:
    assert HealthSpec.from_dict(spec.to_dict()) == spec


def test_state_file_holds_enum_values(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    component = Component(component_specs(ctx)[0], state=ComponentState.HEALTHY, detail="ok")
    write_state(ctx.home, {"supervisor_pid": 1, "components": [component.record(ctx.logs)]})
    state = read_state(ctx.home)
    assert state is not None
    (record,) = state["components"]
    assert record["state"] == "healthy" and ComponentState(record["state"]) is ComponentState.HEALTHY
    assert record["health"] == {"type": "kafka", "bootstrap": "127.0.0.1:19092"}
    assert read_state(tmp_path / "nowhere") is None


def test_a_start_condition_that_never_comes_does_not_block_the_child(tmp_path: Path) -> None:
    """`ChildProcess.wait_for` delays the launch at most `start_timeout`; then it starts as if it had none."""
    calls: list[float] = []
    child = ChildProcess("w", [sys.executable, "-c", "pass"], {}, tmp_path / "w.log", start_timeout=0.5)
    child.wait_for = lambda: calls.append(0.0) is not None and False
    child.prepare()
    assert len(calls) >= 2
    child.wait_for = lambda: True
    child.prepare()
