"""Health probes for every kind of stack component, described by small typed specs.

The supervisor writes each component's spec into `.stack/state.json` (`HealthSpec.to_dict()`),
so `crypto-mlops stack health` (another process) can probe the same things without knowing how
they were started:

    {"type": "http", "url": "http://127.0.0.1:8800/health"}
    {"type": "graphql", "url": "http://127.0.0.1:4000/graphql"}
    {"type": "grpc", "target": "127.0.0.1:50051"}
    {"type": "kafka", "bootstrap": "127.0.0.1:9092"}
    {"type": "tcp", "target": "127.0.0.1:5433"}
    {"type": "process", "pid": 1234}
"""

from __future__ import annotations

import functools
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any
from urllib.parse import urlparse

import httpx
import psutil

from crypto_mlops.stack.ports import LOOPBACK, port_open


class HealthKind(StrEnum):
    HTTP = "http"  # GET url answers 2xx (nested {"x": {"status": ...}} parts must be healthy)
    GRAPHQL = "graphql"  # POST { __typename } answers with data
    GRPC = "grpc"  # grpc.health.v1 says SERVING (or the channel is ready without that service)
    KAFKA = "kafka"  # the broker answers a metadata request
    TCP = "tcp"  # something accepts connections on host:port
    PROCESS = "process"  # the recorded pid is alive


# The JSON key that holds a kind's address (url or host:port); PROCESS has none (its pid is runtime state).
_ADDRESS_KEY = {
    HealthKind.HTTP: "url",
    HealthKind.GRAPHQL: "url",
    HealthKind.GRPC: "target",
    HealthKind.KAFKA: "bootstrap",
    HealthKind.TCP: "target",
}
DEFAULT_TIMEOUT = 3.0


@dataclass(frozen=True)
class HealthSpec:
    """What to probe: `address` is a URL (http, graphql) or host:port (grpc, kafka, tcp)."""

    kind: HealthKind
    address: str | None = None
    pid: int | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def tcp(cls, port: int, host: str = LOOPBACK) -> HealthSpec:
        return cls(HealthKind.TCP, f"{host}:{port}")

    @classmethod
    def process(cls, pid: int | None = None) -> HealthSpec:
        return cls(HealthKind.PROCESS, pid=pid)

    def with_pid(self, pid: int | None) -> HealthSpec:
        return replace(self, pid=pid)

    @property
    def port(self) -> int | None:
        """The TCP port the probe talks to (None for process checks)."""
        if not self.address:
            return None
        if "//" in self.address:
            return urlparse(self.address).port
        return int(self.address.rsplit(":", 1)[1])

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind.value}
        if self.kind in _ADDRESS_KEY:
            out[_ADDRESS_KEY[self.kind]] = self.address
        if self.pid is not None:
            out["pid"] = self.pid
        if self.timeout != DEFAULT_TIMEOUT:
            out["timeout"] = self.timeout
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HealthSpec:
        """Inverse of to_dict; raises ValueError for an unknown type."""
        kind = HealthKind(str(data.get("type")))
        address = data.get(_ADDRESS_KEY[kind]) if kind in _ADDRESS_KEY else None
        if kind is HealthKind.TCP and address is None and "port" in data:  # state files before the target key
            address = f"{LOOPBACK}:{int(data['port'])}"
        pid = data.get("pid")
        timeout = float(data.get("timeout", DEFAULT_TIMEOUT))
        return cls(kind, address, int(pid) if pid else None, timeout)


@dataclass
class HealthResult:
    ok: bool
    detail: str
    latency_ms: float = 0.0


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every probe: httpx would load the CA bundle again on each call (~20 ms of
    CPU), and the supervisor probes a starting server ten times a second."""
    return ssl.create_default_context()


def _http(url: str, timeout: float) -> HealthResult:
    response = httpx.get(url, timeout=timeout, verify=_tls())
    if response.is_success:
        detail = f"HTTP {response.status_code}"
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "status" in body:
            detail += f" status={body['status']}"
        # Airflow's /api/v2/monitor/health: {"scheduler": {"status": "healthy", ...}, ...}
        parts = (
            {k: v["status"] for k, v in body.items() if isinstance(v, dict) and "status" in v}
            if isinstance(body, dict)
            else {}
        )
        unhealthy = {k: v for k, v in parts.items() if v not in ("healthy", None)}
        if unhealthy:
            return HealthResult(False, "unhealthy: " + ", ".join(f"{k}={v}" for k, v in unhealthy.items()))
        if parts:
            detail += " " + ", ".join(f"{k} ok" for k in parts)
        return HealthResult(True, detail)
    return HealthResult(False, f"HTTP {response.status_code}: {response.text[:120]}")


def _graphql(url: str, timeout: float) -> HealthResult:
    response = httpx.post(url, json={"query": "{ __typename }"}, timeout=timeout, verify=_tls())
    ok = response.is_success and "data" in response.json()
    return HealthResult(ok, f"HTTP {response.status_code}" + ("" if ok else f": {response.text[:120]}"))


def _grpc(target: str, timeout: float) -> HealthResult:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(target) as channel:
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            return HealthResult(False, f"no gRPC server at {target}")
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.UNIMPLEMENTED:
                return HealthResult(True, "channel ready (no grpc.health.v1 service)")
            return HealthResult(False, f"health check failed: {exc.code().name}")
        status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
        return HealthResult(status == "SERVING", status)


def _kafka(bootstrap: str, timeout: float) -> HealthResult:
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    # librdkafka reports every failed connect (log lines and error events, several a second); the
    # result carries the reason in one line instead, so both go to a sink that only keeps the last one.
    errors: list[str] = []
    quiet = logging.Logger("crypto_mlops.stack.kafka-probe", logging.CRITICAL + 1)
    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "socket.timeout.ms": int(timeout * 1000),
        "error_cb": lambda err: errors.append(err.str()),
        "logger": quiet,
    }
    admin = AdminClient(conf)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        last = f" ({errors[-1]})" if errors else ""
        return HealthResult(False, f"broker not answering: {exc.args[0].str() if exc.args else exc}{last}"[:300])
    return HealthResult(True, f"{len(metadata.brokers)} broker(s), {len(metadata.topics)} topic(s)")


def _tcp(target: str) -> HealthResult:
    host, port = target.rsplit(":", 1)
    ok = port_open(int(port), host)
    return HealthResult(ok, "port open" if ok else "port closed")


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _process(pid: int | None) -> HealthResult:
    if pid is None:
        return HealthResult(False, "not started")
    try:
        proc = psutil.Process(pid)
        status = proc.status()
    except psutil.NoSuchProcess:
        return HealthResult(False, f"process {pid} not running")
    if status == psutil.STATUS_ZOMBIE:
        return HealthResult(False, f"process {pid} exited")
    return HealthResult(True, f"running (pid {pid})")


def _probe(spec: HealthSpec, timeout: float) -> HealthResult:
    address = str(spec.address)
    match spec.kind:
        case HealthKind.HTTP:
            return _http(address, timeout)
        case HealthKind.GRAPHQL:
            return _graphql(address, timeout)
        case HealthKind.GRPC:
            return _grpc(address, timeout)
        case HealthKind.KAFKA:
            return _kafka(address, timeout)
        case HealthKind.TCP:
            return _tcp(address)
    return _process(spec.pid)


def _checked(spec: HealthSpec | Mapping[str, Any], timeout: float | None) -> HealthResult:
    if not isinstance(spec, HealthSpec):
        try:
            spec = HealthSpec.from_dict(raw := spec)
        except (TypeError, ValueError):
            return HealthResult(False, f"unknown check {raw.get('type')!r}")
    try:
        return _probe(spec, spec.timeout if timeout is None else timeout)
    except httpx.HTTPError as exc:
        return HealthResult(False, f"not reachable ({type(exc).__name__})")
    except Exception as exc:  # a probe must report, not crash the table
        return HealthResult(False, f"{type(exc).__name__}: {exc}")


def check(spec: HealthSpec | Mapping[str, Any], timeout: float | None = None) -> HealthResult:
    """Probe one component; never raises (a failure is a result with ok=False and the reason).

    `spec` may also be its JSON form (as read from the state file); `timeout` overrides the spec's.
    """
    started = time.monotonic()
    result = _checked(spec, timeout)
    result.latency_ms = round((time.monotonic() - started) * 1000, 1)
    return result
