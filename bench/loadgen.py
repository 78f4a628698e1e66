"""Load drivers for `bench_api.py`: wrk (preferred), an httpx client (fallback); for gRPC, h2load
(preferred: nghttp2's HTTP/2 load generator, C like wrk) and a grpc.aio client (fallback).

Each drives closed-loop load with a fixed number of connections for a fixed time and returns a `Cell`
(requests/s, p50/p99 latency in ms, errors).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


@dataclass
class Cell:
    target: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    driver: str


def find_tool(tool: str, package: str, install: bool = True) -> str | None:
    """`tool` on PATH; else try `apt-get install -y <package>` (Debian/Ubuntu, as root) once."""
    found = shutil.which(tool)
    if found or not install or shutil.which("apt-get") is None:
        return found
    print(f"{tool} not found: apt-get install -y {package} ...", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", package], capture_output=True, timeout=300, check=False)
    return shutil.which(tool)


def find_wrk(install: bool = True) -> str | None:
    return find_tool("wrk", "wrk", install)


def find_h2load(install: bool = True) -> str | None:
    return find_tool("h2load", "nghttp2-client", install)


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        return float("nan")
    return round(float(match.group(1)) * _UNITS_MS[match.group(2)], 3)


def wrk_cell(
    wrk: str, name: str, url: str, concurrency: int, seconds: float, method: str = "GET", body: Any = None
) -> Cell:
    """Run wrk against `url`; a Lua script sets the method and the JSON body."""
    lines = [f'wrk.method = "{method}"', 'wrk.headers["Content-Type"] = "application/json"']
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(json.dumps(body))}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    threads = max(1, min(2, concurrency))
    cmd = [wrk, f"-t{threads}", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--latency", "-s", script.name, url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False).stdout
    Path(script.name).unlink(missing_ok=True)
    requests = int(m.group(1)) if (m := re.search(r"(\d+) requests in", out)) else 0
    elapsed = _ms(m.group(1)) / 1000 if (m := re.search(r"requests in ([\d.]+\w+),", out)) else seconds
    non2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = non2xx + (sum(int(x) for x in sock.groups()) if sock else 0)
    p50 = _ms(m.group(1)) if (m := re.search(r"^\s+50%\s+(\S+)", out, re.M)) else float("nan")
    p99 = _ms(m.group(1)) if (m := re.search(r"^\s+99%\s+(\S+)", out, re.M)) else float("nan")
    ok = requests - non2xx
    return Cell(name, concurrency, ok, errors, round(elapsed, 2), round(ok / elapsed, 1), p50, p99, "wrk")


async def _closed_loop(
    concurrency: int, seconds: float, call: Callable[[], Awaitable[bool]]
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    for _ in range(2):  # warm the connections and the server
        await call()
    stop_at = time.perf_counter() + seconds
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal errors
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                ok = await call()
            except Exception:
                ok = False
            if ok:
                latencies.append((time.perf_counter() - t0) * 1000)
            else:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def _percentile(ordered: list[float], q: float) -> float:
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else float("nan")


def _cell(name: str, concurrency: int, latencies: list[float], errors: int, elapsed: float, driver: str) -> Cell:
    latencies.sort()
    return Cell(
        name, concurrency, len(latencies), errors, round(elapsed, 2), round(len(latencies) / elapsed, 1),
        _percentile(latencies, 0.50), _percentile(latencies, 0.99), driver,
    )  # fmt: skip


def python_cell(name: str, url: str, concurrency: int, seconds: float, method: str = "GET", body: Any = None) -> Cell:
    """The fallback: an httpx asyncio client (slower than wrk: a lower bound of the server's rate)."""

    async def run() -> Cell:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:

            async def call() -> bool:
                response = await client.request(method, url, json=body)
                return response.status_code == 200

            latencies, errors, elapsed = await _closed_loop(concurrency, seconds, call)
        return _cell(name, concurrency, latencies, errors, elapsed, "httpx")

    return asyncio.run(run())


def grpc_cell(name: str, target: str, concurrency: int, seconds: float, method: str, request: Any) -> Cell:
    """Unary gRPC calls on one grpc.aio channel (HTTP/2 multiplexes the `concurrency` callers)."""
    import grpc

    from crypto_mlops.rpc.stubs import load

    _, pb2_grpc = load()

    async def run() -> Cell:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = pb2_grpc.CryptoServiceStub(channel)
            rpc = getattr(stub, method)

            async def call() -> bool:
                await rpc(request, timeout=60)
                return True

            latencies, errors, elapsed = await _closed_loop(concurrency, seconds, call)
        return _cell(name, concurrency, latencies, errors, elapsed, "grpc.aio")

    return asyncio.run(run())


def grpc_frame(message: bytes) -> bytes:
    """A gRPC length-prefixed message: not compressed (0), 4-byte big-endian length, the protobuf bytes."""
    return b"\x00" + struct.pack(">I", len(message)) + message


def h2load_grpc_cell(
    h2load: str, name: str, target: str, concurrency: int, seconds: float, path: str, request: bytes, reply_bytes: int
) -> Cell:
    """Unary gRPC calls with h2load over h2c: `concurrency` connections, one call in flight on each (as wrk).

    h2load sees HTTP statuses only, and a failed gRPC call is an HTTP 200 whose trailers carry the
    grpc-status, with no message. So every call is checked by its DATA bytes instead: a successful call
    returns one `reply_bytes`-long message (5-byte prefix included); each missing message is an error.
    Latency percentiles come from h2load's per-request log.
    """
    with tempfile.TemporaryDirectory() as tmp:
        body, log = Path(tmp) / "request.bin", Path(tmp) / "requests.log"
        body.write_bytes(grpc_frame(request))
        headers = ["-H", "content-type: application/grpc", "-H", "te: trailers"]
        cmd = [h2load, "-c", str(concurrency), "-m", "1", "-t", "1", "-D", str(max(1, round(seconds)))]
        cmd += [*headers, "-d", str(body), f"--log-file={log}", f"http://{target}{path}"]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False).stdout
        durations = sorted(int(line.split("\t")[2]) / 1000 for line in log.read_text().splitlines() if line.strip())
    done = int(m.group(1)) if (m := re.search(r"(\d+) done", out)) else 0
    failed = sum(int(x) for x in re.findall(r"(\d+) (?:failed|errored|timeout)", out))
    elapsed = _ms(m.group(1)) / 1000 if (m := re.search(r"finished in ([\d.]+\w+),", out)) else seconds
    data = int(m.group(1)) if (m := re.search(r"\((\d+)\) data", out)) else 0
    ok = min(done, data // reply_bytes) if reply_bytes else 0
    p50, p99 = _percentile(durations, 0.50), _percentile(durations, 0.99)  # every call: h2load cannot tell which failed
    return Cell(
        name, concurrency, ok, failed + done - ok, round(elapsed, 2), round(ok / elapsed, 1), p50, p99, "h2load"
    )


def table(cells: list[Cell], ceiling: dict[int, Cell] | None = None) -> str:
    rows = [
        "| target | conns | req/s | % of ceiling | p50 ms | p99 ms | p99 / ceiling's | errors | driver |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for c in cells:
        ref = (ceiling or {}).get(c.concurrency)
        share = f"{100 * c.rps / ref.rps:.0f} %" if ref and ref.rps else "—"
        tail = f"{c.p99_ms / ref.p99_ms:.1f}x" if ref and ref.p99_ms else "—"
        rows.append(
            f"| {c.target} | {c.concurrency} | {c.rps} | {share} | {c.p50_ms} | {c.p99_ms} | {tail} | {c.errors} "
            f"| {c.driver} |"
        )
    return "\n".join(rows)
