"""The figures of the README's reliability rows 1, 2, 6, 7, 9 and 10 (not a test; the tests assert bounds).

Starts `crypto-mlops serve api|graphql|grpc` on free loopback ports (synthetic candles, throw-away
stores) and measures what each hostile request does now:
1. a 380-alias GraphQL document on :API and 500 aliases on the standalone port, with /health timed meanwhile;
2. 20 open StreamPrices calls while grpc.health.v1 and HealthCheck are timed;
6. `{"limit": 1e400}` / NaN / Infinity on signal and ml-signal;
7. 3,000 distinct pairs: RSS of the API before and after, and the cache's entries and bytes;
9. production refusals (API_KEY=x; strong key without S3);
10. a chunked 1 MB body, and a 3 MB gRPC symbol.

    .venv/bin/python bench/bench_limits.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from crypto_mlops.stack.ports import free_port, wait_for_http, wait_for_port

REPO = Path(__file__).resolve().parents[1]
TMP = Path(tempfile.mkdtemp(prefix="bench-limits-"))
ENV = {
    **os.environ,
    "PYTHONPATH": str(REPO),
    "ENV": "development",
    "DATA_SOURCE": "synthetic",
    "DATABASE_URL": f"sqlite:///{TMP / 'history.db'}",
    "MLFLOW_TRACKING_URI": f"sqlite:///{TMP / 'mlflow.db'}",
    "MODEL_POLL_S": "0",
    "PREDICTION_FEED": "periodic",
    "RATE_LIMIT_PER_MIN": "0",
}


def serve(what: str, port: int, **env: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "crypto_mlops.cli.main", "serve", what, "--port", str(port)]
    return subprocess.Popen(cmd, cwd=TMP, env={**ENV, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bomb(n: int) -> str:
    return "query{" + " ".join(f"a{i}: ohlcvData(input:{{limit:{50 + i}}}){{symbol}}" for i in range(n)) + "}"


def timed_health(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(f"{url}/health")
            out.append(time.perf_counter() - started)
            time.sleep(0.02)


def row1(api: str, gql: str) -> dict[str, object]:
    latencies: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=timed_health, args=(api, stop, latencies))
    watcher.start()
    started = time.perf_counter()
    r = httpx.post(f"{api}/graphql", json={"query": bomb(380)}, timeout=60)
    took = time.perf_counter() - started
    time.sleep(0.5)
    stop.set()
    watcher.join()
    r4000 = httpx.post(f"{gql}/graphql", json={"query": bomb(500)}, timeout=60)
    latencies.sort()
    return {
        "380 aliases on API: status, seconds, bytes, error": (
            r.status_code,
            round(took, 3),
            len(r.content),
            r.json()["errors"][0]["message"][:80],
        ),
        "/health during it: p50, max (ms)": (
            round(1000 * latencies[len(latencies) // 2], 1),
            round(1000 * latencies[-1], 1),
        ),
        "500 aliases on standalone: status": r4000.status_code,
    }


def row2(port: int) -> dict[str, object]:
    from crypto_mlops.rpc.server import pb2, pb2_grpc

    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = pb2_grpc.CryptoServiceStub(channel)
    calls = [stub.StreamPrices(pb2.StreamRequest(symbols=["BTCUSDT"], update_interval_ms=500)) for _ in range(20)]
    codes: dict[str, int] = {}
    for call in calls:
        try:
            next(call)
            codes["OK"] = codes.get("OK", 0) + 1
        except grpc.RpcError as exc:
            codes[exc.code().name] = codes.get(exc.code().name, 0) + 1
    started = time.perf_counter()
    health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    health_ms = 1000 * (time.perf_counter() - started)
    started = time.perf_counter()
    stub.HealthCheck(pb2.HealthCheckRequest(), timeout=5)
    unary_ms = 1000 * (time.perf_counter() - started)
    huge = "Z" * 3_000_000
    try:
        stub.GetOHLCV(pb2.OHLCVRequest(symbol=huge), timeout=10)
        big = ("OK", 0)
    except grpc.RpcError as exc:
        big = (exc.code().name, len(exc.details() or ""))
    for call in calls:
        call.cancel()
    channel.close()
    return {
        "20 streams": codes,
        "grpc.health.v1 Check (ms)": round(health_ms, 1),
        "HealthCheck (ms)": round(unary_ms, 1),
        "3 MB symbol: code, detail chars": big,
    }


def row6_10(api: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for raw in ("1e400", "NaN", "Infinity"):
        for path in ("/v1/crypto/signal", "/v1/crypto/ml-signal"):
            r = httpx.post(f"{api}{path}", content=f'{{"limit": {raw}}}', headers={"content-type": "application/json"})
            out[f"{path} limit={raw}"] = r.status_code

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 10_000

    r = httpx.post(f"{api}/v1/crypto/signal", content=chunks(), headers={"content-type": "application/json"})
    out["chunked 1 MB"] = r.status_code
    return out


def row7(api: str, pid: int) -> dict[str, object]:
    before = rss_mb(pid)
    started = time.perf_counter()
    with httpx.Client(timeout=30) as client:
        for i in range(3000):
            client.get(f"{api}/v1/crypto/ohlcv", params={"symbol": f"Q{i:04d}USDT", "limit": 50})
        cache = client.get(f"{api}/metrics/limits").json()["ohlcv_cache"]
    return {
        "RSS before, after (MB)": (round(before), round(rss_mb(pid))),
        "seconds": round(time.perf_counter() - started, 1),
        "cache entries, MB, evictions": (cache["entries"], round(cache["bytes"] / 2**20, 1), cache["evictions"]),
    }


def row9() -> dict[str, object]:
    out: dict[str, object] = {}
    for label, env in (
        ("API_KEY=x", {"API_KEY": "x"}),
        ("strong key, no S3", {"API_KEY": "a-strong-api-key-for-bench"}),
    ):
        cmd = [sys.executable, "-m", "crypto_mlops.cli.main", "serve", "api", "--port", str(free_port())]
        proc = subprocess.Popen(
            cmd, cwd=TMP, env={**ENV, "ENV": "production", **env}, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
        )
        try:
            _, err = proc.communicate(timeout=8)
            out[label] = (proc.returncode, err.decode().strip())
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait()
            out[label] = "serving (still running after 8 s)"
    return out


def main() -> None:
    api_port, gql_port, grpc_port = free_port(), free_port(), free_port()
    procs = [serve("api", api_port), serve("graphql", gql_port), serve("grpc", grpc_port)]
    api, gql = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{gql_port}"
    try:
        wait_for_http(f"{api}/health", timeout=90)
        wait_for_http(f"{gql}/", timeout=90)
        wait_for_port(grpc_port, timeout=90)
        httpx.get(f"{api}/v1/ml/model/info", timeout=60)
        report = {
            "row 1": row1(api, gql),
            "row 2 + 10 (gRPC)": row2(grpc_port),
            "rows 6 + 10 (REST)": row6_10(api),
            "row 7": row7(api, procs[0].pid),
            "row 9": row9(),
        }
        print(json.dumps(report, indent=2))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()
