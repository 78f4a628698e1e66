"""Fault tests on real processes under the stack supervisor: kill -9 of the API, the stream consumer and
the broker (tansu); a killed MLflow parent; a crash loop.

One supervised stack is shared by the kill tests (module fixture): a tansu broker, `crypto-mlops stream
consume` and `crypto-mlops serve api` (a real uvicorn process whose SSE endpoint relays the predictions
topic), plus an in-process producer that sends a tick every 0.1 s and records every key it sent. A
background thread runs the supervisor's watch loop, as `stack up` does. Each test prints its measured
recovery time (`-s` shows them; docs/reliability.md lists them).
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from rich.console import Console

from crypto_mlops.config import Settings, StackSettings
from crypto_mlops.stack.child import ChildProcess, cli_command
from crypto_mlops.stack.component import Component, ComponentSpec, ComponentState
from crypto_mlops.stack.health import HealthKind, HealthSpec, check
from crypto_mlops.stack.mlflow_server import MlflowServer
from crypto_mlops.stack.ports import free_port, is_port_free
from crypto_mlops.stack.restart import RestartPolicy
from crypto_mlops.stack.shutdown import process_family
from crypto_mlops.stack.status import probe
from crypto_mlops.stack.supervisor import StackSupervisor
from crypto_mlops.stack.tansu import TansuBroker
from crypto_mlops.streaming.producer import TickProducer
from crypto_mlops.streaming.schemas import PredictionMessage
from crypto_mlops.streaming.sources import simulate_ticks
from crypto_mlops.streaming.topics import ensure_topics

pytestmark = pytest.mark.integration

FAST = RestartPolicy(max_restarts=3, backoff_s=0.5, max_backoff_s=2.0, stable_s=5.0)
RECOVERY_LIMIT_S = 45.0
SOL_START = datetime(2030, 1, 1, tzinfo=UTC)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def _supervisor(root: Path, policy: RestartPolicy = FAST) -> StackSupervisor:
    settings = StackSettings(home=root / ".stack", start_timeout_s=120)
    sup = StackSupervisor(stack_settings=settings, console=Console(file=io.StringIO()), root=root, policy=policy)
    sup.logs.mkdir(parents=True, exist_ok=True)
    return sup


@dataclass
class SseReader:
    """Reads `/v1/stream/predictions` in a thread, reconnecting (as a browser's EventSource does)."""

    url: str
    predictions: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, event key)
    statuses: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    connects: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> SseReader:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def keys(self) -> set[str]:
        return {k for _, k in list(self.predictions)}

    def first_new_after(self, t0: float, old: set[str]) -> float | None:
        return next((t for t, k in list(self.predictions) if t > t0 and k not in old), None)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                with httpx.stream("GET", self.url, timeout=httpx.Timeout(5.0, read=30.0)) as response:
                    self.connects += 1
                    kind = ""
                    for line in response.iter_lines():
                        if line.startswith("event:"):
                            kind = line[6:].strip()
                        elif line.startswith("data:") and kind == "prediction":
                            data = json.loads(line[5:])
                            key = PredictionMessage.model_validate({k: v for k, v in data.items() if k != "feed"})
                            self.predictions.append((time.monotonic(), key.event_key))
                        elif line.startswith("data:") and kind == "status":
                            self.statuses.append((time.monotonic(), json.loads(line[5:])))
                        if self.stop.is_set():
                            return
            except (httpx.HTTPError, ValueError):
                self.stop.wait(0.5)


@dataclass
class Ticker:
    """Sends a simulated tick every `interval_s` while `running` is set; remembers every key sent."""

    producer: TickProducer
    interval_s: float = 0.1
    sent: list[str] = field(default_factory=list)
    sol_hours: int = 0
    running: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Ticker:
        self.running.set()
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        ticks = iter(
            sorted(simulate_ticks(["BTC/USDT", "ETH/USDT"], max_bars=5000, seed=13), key=lambda t: t.timestamp)
        )
        while not self.stop.is_set():
            if self.running.is_set():
                tick = next(ticks)
                if self.producer.send(tick):
                    self.sent.append(tick.event_key)
            self.producer._producer.poll(0)
            self.stop.wait(self.interval_s)

    def send_now(self, n: int, gap_s: float) -> list[str]:
        """Pause the ticker and send `n` ticks from this thread (returns their keys)."""
        self.running.clear()
        time.sleep(self.interval_s * 2)
        before = len(self.sent)
        ticks = list(simulate_ticks(["SOL/USDT"], max_bars=n, seed=before))
        for i, tick in enumerate(ticks):
            # SOL ticks of their own, later with every call (the consumer skips a tick older than its last)
            tick = tick.model_copy(update={"timestamp": SOL_START + timedelta(hours=self.sol_hours + i)})
            assert self.producer.send(tick)
            self.sent.append(tick.event_key)
            self.producer._producer.poll(0)
            time.sleep(gap_s)
        self.sol_hours += n
        return self.sent[before:]


@dataclass
class FaultStack:
    sup: StackSupervisor
    settings: Settings
    reader: SseReader
    ticker: Ticker

    def component(self, name: str) -> Component:
        return self.sup.components[name]

    def healthy(self, name: str) -> bool:
        return self.component(name).state == ComponentState.HEALTHY

    def flowing(self, timeout: float = RECOVERY_LIMIT_S) -> None:
        """Predictions of ticks sent from now on reach the SSE client."""
        self.ticker.running.set()
        t0 = time.monotonic()
        seen = self.reader.keys()
        assert _wait(lambda: self.reader.first_new_after(t0, seen) is not None, timeout), self.logs()

    def logs(self) -> str:
        out = [f"{c.name}: {c.state} {c.detail}" for c in self.sup.components.values()]
        for name in ("api", "consumer", "broker"):
            path = self.sup.logs / f"{name}.log"
            if path.exists():
                out.append(f"--- {name}.log\n" + "\n".join(path.read_text(errors="replace").splitlines()[-15:]))
        return "\n".join(out)


@pytest.fixture(scope="module")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    root = tmp_path_factory.mktemp("faults")
    sup = _supervisor(root)
    broker_port, api_port = free_port(), free_port()
    uid = uuid.uuid4().hex[:6]
    kafka = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker_port}",
        "KAFKA_TOPIC_PRICES": f"prices-{uid}",
        "KAFKA_TOPIC_PREDICTIONS": f"predictions-{uid}",
        "KAFKA_TOPIC_ALERTS": f"alerts-{uid}",
        "KAFKA_TOPIC_DEAD_LETTER": f"dlq-{uid}",
        "KAFKA_CONSUMER_GROUP": f"group-{uid}",
    }
    env = {**os.environ, **kafka, "API_HOST": "127.0.0.1", "API_PORT": str(api_port), "PREDICTION_FEED": "kafka"}
    env["PYTHONUNBUFFERED"] = "1"
    api_url = f"http://127.0.0.1:{api_port}"
    api_health = HealthSpec(HealthKind.HTTP, f"{api_url}/health")
    consume = cli_command("stream", "consume", "--no-model", "--batch-size", "10")
    specs = [
        ComponentSpec(
            "broker",
            "tansu",
            port=broker_port,
            health=HealthSpec(HealthKind.KAFKA, kafka["KAFKA_BOOTSTRAP_SERVERS"]),
            build=lambda: TansuBroker(broker_port, log_path=sup.logs / "broker.log"),
        ),
        ComponentSpec(
            "consumer",
            "stream consume",
            health=HealthSpec.process(),
            depends_on=("broker",),
            restart_after=("broker",),
            build=lambda: ChildProcess("consumer", consume, env, sup.logs / "consumer.log"),
        ),
        ComponentSpec(
            "api",
            "serve api",
            port=api_port,
            health=api_health,
            depends_on=("broker",),
            build=lambda: ChildProcess(
                "api", cli_command("serve", "api"), env, sup.logs / "api.log", ready=lambda: check(api_health).ok
            ),
        ),
    ]
    sup.components = {spec.name: Component.from_spec(spec) for spec in specs}
    settings = Settings(**kafka)  # type: ignore[arg-type]
    watching = threading.Event()

    def watch() -> None:
        while not watching.wait(0.2):
            sup.watch_once()

    stack: FaultStack | None = None
    try:
        sup.start_all()
        assert sup.all_healthy(), [(c.name, c.state, c.detail) for c in sup.components.values()]
        ensure_topics(settings)
        threading.Thread(target=watch, daemon=True).start()
        reader = SseReader(f"{api_url}/v1/stream/predictions?symbols=BTCUSDT,ETHUSDT,SOLUSDT").start()
        stack = FaultStack(sup, settings, reader, Ticker(TickProducer(settings)).start())
        stack.flowing(timeout=60)
        yield stack
    finally:
        watching.set()
        if stack is not None:
            stack.ticker.stop.set()
            stack.reader.stop.set()
        sup.stop_all()


def _kill(stack: FaultStack, name: str) -> tuple[int, float]:
    pid = stack.component(name).pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid, time.monotonic()


def test_killed_api_is_restarted_and_sse_predictions_resume(fault_stack: FaultStack) -> None:
    stack = fault_stack
    stack.flowing()
    connects = stack.reader.connects
    old, killed_at = _kill(stack, "api")
    assert _wait(lambda: stack.component("api").state == ComponentState.RESTARTING, 10), stack.logs()
    assert _wait(lambda: stack.healthy("api"), RECOVERY_LIMIT_S), stack.logs()
    healthy_at = time.monotonic()
    seen = stack.reader.keys()
    assert _wait(lambda: stack.reader.first_new_after(healthy_at, seen) is not None, RECOVERY_LIMIT_S), stack.logs()
    resumed = stack.reader.first_new_after(healthy_at, seen)
    assert resumed is not None and stack.reader.connects > connects
    api = stack.component("api")
    assert api.pid != old and api.restarts >= 1 and "SIGKILL" in (api.last_exit or "")
    print(f"\napi: healthy {healthy_at - killed_at:.1f} s after kill -9, SSE predictions {resumed - killed_at:.1f} s")


def test_killed_consumer_is_restarted_and_sse_predictions_resume(fault_stack: FaultStack) -> None:
    stack = fault_stack
    stack.flowing()
    old, killed_at = _kill(stack, "consumer")
    assert _wait(lambda: stack.component("consumer").pid not in (None, old) and stack.healthy("consumer"), 30)
    restarted_at = time.monotonic()
    seen = stack.reader.keys()
    assert _wait(lambda: stack.reader.first_new_after(restarted_at, seen) is not None, RECOVERY_LIMIT_S), stack.logs()
    resumed = stack.reader.first_new_after(restarted_at, seen)
    assert resumed is not None
    print(
        f"\nconsumer: back {restarted_at - killed_at:.1f} s after kill -9, SSE predictions {resumed - killed_at:.1f} s"
    )


def test_killed_broker_is_restarted_no_tick_of_a_short_outage_is_lost_and_sse_says_so(
    fault_stack: FaultStack,
) -> None:
    stack = fault_stack
    stack.flowing()
    mark = len(stack.ticker.sent)
    time.sleep(1.0)
    stack.ticker.running.clear()
    time.sleep(0.3)
    # What the broker held but had not handed out dies with it (memory storage): let the consumer catch up.
    recent = set(stack.ticker.sent[mark:])
    assert _wait(lambda: recent <= stack.reader.keys(), RECOVERY_LIMIT_S), stack.logs()
    statuses = len(stack.reader.statuses)
    _, killed_at = _kill(stack, "broker")
    during = stack.ticker.send_now(20, gap_s=0.1)  # ~2 s of ticks while the broker is down / restarting
    assert _wait(lambda: stack.healthy("broker"), RECOVERY_LIMIT_S), stack.logs()
    broker_back = time.monotonic()
    after = stack.ticker.send_now(20, gap_s=0.05)
    expected = set(during) | set(after)
    assert _wait(lambda: expected <= stack.reader.keys(), RECOVERY_LIMIT_S), (
        f"{len(expected - stack.reader.keys())} of {len(expected)} ticks without a prediction\n{stack.logs()}"
    )
    all_in = time.monotonic()
    first = stack.reader.first_new_after(killed_at, set(stack.reader.keys()) - expected)
    stats = stack.ticker.producer.stats
    assert stats.dropped == 0 and stats.failed == 0
    states = [s["state"] for _, s in stack.reader.statuses[statuses:]]
    assert "down" in states and states[-1] == "up", stack.reader.statuses[statuses:]
    down = next(s for _, s in stack.reader.statuses[statuses:] if s["state"] == "down")
    assert down["feed"] == "kafka" and down["reason"]
    assert stack.component("consumer").state == ComponentState.HEALTHY  # restarted with the broker
    assert first is not None
    print(
        f"\nbroker: back {broker_back - killed_at:.1f} s after kill -9; first new SSE prediction "
        f"{first - killed_at:.1f} s, all {len(expected)} ticks of the outage answered {all_in - killed_at:.1f} s"
    )
    stack.ticker.running.set()


def test_killed_mlflow_parent_leaves_no_orphan_and_health_says_so(tmp_path: Path) -> None:
    sup = _supervisor(tmp_path, RestartPolicy(max_restarts=0))
    port = free_port()
    server = MlflowServer(
        port,
        backend_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        log_path=sup.logs / "mlflow.log",
    )
    spec = ComponentSpec(
        "mlflow", "MLflow", port=port, health=HealthSpec(HealthKind.HTTP, f"{server.tracking_uri}/health")
    )
    sup.components = {"mlflow": Component(spec, service=server)}
    try:
        sup.start_all()
        component = sup.components["mlflow"]
        assert component.state == ComponentState.HEALTHY, component.detail
        sup.watch_once()  # learns the family
        parent = server.pid
        assert parent is not None
        family = process_family(parent)
        # The launcher makes `mlflow server` its own uvicorn (one process, docs/footprint.md); any child
        # it still has (an MLflow that starts its server differently) must die with it too.
        assert parent in family
        os.kill(parent, signal.SIGKILL)
        killed_at = time.monotonic()
        assert _wait(lambda: (sup.watch_once(), component.state == ComponentState.FAILED)[1], 15)
        assert _wait(lambda: not any(_alive(pid) for pid in family), 10), [p for p in family if _alive(p)]
        gone = time.monotonic()
        assert is_port_free(port)
        records = sup.snapshot()["components"]
        health = probe(records)[0]
        assert not health["ok"] and "failed" in health["probe"]
        print(
            f"\nmlflow: parent killed, family ({len(family)} processes) gone and port free in {gone - killed_at:.1f} s"
        )
    finally:
        sup.stop_all()


def test_a_crash_loop_ends_in_failed_after_the_limit(tmp_path: Path) -> None:
    policy = RestartPolicy(max_restarts=2, backoff_s=0.2, max_backoff_s=1.0)
    sup = _supervisor(tmp_path, policy)
    # A worker that passes its readiness grace (3 s) and then dies, every time.
    command = [sys.executable, "-c", "import time; time.sleep(3.2); raise SystemExit('config error: no such model')"]
    spec = ComponentSpec("worker", "crashes", health=HealthSpec.process())
    sup.components = {"worker": Component(spec, ChildProcess("worker", command, dict(os.environ), sup.logs / "w.log"))}
    component = sup.components["worker"]
    try:
        sup.start_all()
        t0 = time.monotonic()
        assert _wait(lambda: (sup.watch_once(), component.state == ComponentState.FAILED)[1], 40, interval=0.1)
        gave_up = time.monotonic() - t0
    finally:
        sup.stop_all()
    assert component.restarts == policy.max_restarts
    assert "crash loop" in component.detail and "exit code 1" in component.detail
    health = probe(sup.snapshot()["components"])[0]
    assert not health["ok"] and "crash loop" in health["probe"]
    log = (sup.logs / "w.log").read_text()
    assert log.count("supervisor: worker stopped") == policy.max_restarts and "supervisor: worker crash loop" in log
    print(f"\ncrash loop: FAILED after {component.restarts} restarts, {gave_up:.1f} s")
