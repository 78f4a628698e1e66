"""Health probes for every kind of stack component, described as small JSON-able specs.

The supervisor writes each component's spec into `.stack/state.json`, so `crypto-mlops stack
health` (another process) can probe the same things without knowing how they were started:

    {"type": "http", "url": "http://127.0.0.1:8800/health"}
    {"type": "graphql", "url": "http://127.0.0.1:4000/graphql"}
    {"type": "grpc", "target": "127.0.0.1:50051"}
    {"type": "kafka", "bootstrap": "127.0.0.1:9092"}
    {"type": "process", "pid": 1234}
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import psutil

HealthSpec = dict[str, Any]


@dataclass
class HealthResult:
    ok: bool
    detail: str
    latency_ms: float = 0.0


def _http(url: str, timeout: float) -> HealthResult:
    response = httpx.get(url, timeout=timeout)
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
    response = httpx.post(url, json={"query": "{ __typename }"}, timeout=timeout)
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

    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout * 1000)})
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        return HealthResult(False, f"broker not answering: {exc}")
    return HealthResult(True, f"{len(metadata.brokers)} broker(s), {len(metadata.topics)} topic(s)")


def _process(pid: int) -> HealthResult:
    try:
        proc = psutil.Process(pid)
        status = proc.status()
    except psutil.NoSuchProcess:
        return HealthResult(False, f"process {pid} not running")
    if status == psutil.STATUS_ZOMBIE:
        return HealthResult(False, f"process {pid} exited")
    return HealthResult(True, f"running (pid {pid})")


def check(spec: HealthSpec, timeout: float = 3.0) -> HealthResult:
    """Probe one component; never raises (a failure is a result with ok=False and the reason)."""
    started = time.monotonic()
    kind = spec.get("type")
    try:
        if kind == "http":
            result = _http(spec["url"], timeout)
        elif kind == "graphql":
            result = _graphql(spec["url"], timeout)
        elif kind == "grpc":
            result = _grpc(spec["target"], timeout)
        elif kind == "kafka":
            result = _kafka(spec["bootstrap"], timeout)
        elif kind == "process":
            result = _process(int(spec["pid"]))
        else:
            result = HealthResult(False, f"unknown check {kind!r}")
    except httpx.HTTPError as exc:
        result = HealthResult(False, f"not reachable ({type(exc).__name__})")
    except Exception as exc:  # a probe must report, not crash the table
        result = HealthResult(False, f"{type(exc).__name__}: {exc}")
    result.latency_ms = round((time.monotonic() - started) * 1000, 1)
    return result
