"""Serving benchmark (not a test): every project endpoint next to a bare FastAPI ceiling, in one run.

One run, everything on loopback, no network:
1. optionally (`--champion`) a throw-away MLflow store gets a registered `crypto-predictor` champion
   trained on synthetic candles; without it the API serves the HAR baseline, as a fresh install does;
2. `crypto-mlops serve api` and `crypto-mlops serve grpc` serve it; the bench waits for `/health` to say
   ready (model loaded, default candles cached);
3. the ceiling: `bench/bare_app.py`, a bare FastAPI app under the same uvicorn settings, one POST route
   returning a JSON body of the size of an `ml-signal` answer: `async def` (the framework's limit) and
   `def` (a sync route, run in the threadpool like the project's);
4. closed-loop load with 1, 16 and 64 connections per target for `--seconds` each: `wrk` (installed
   with apt-get or found on PATH; `--client python` or its absence falls back to an httpx client);
   gRPC by `h2load` (nghttp2-client, installed the same way; unary calls over h2c, one in flight per
   connection as with wrk, each call checked by the bytes of its reply), or a `grpc.aio` client
   (`--grpc-client python`, or when h2load is missing; `both` runs the two);
5. `--mlflow`: `mlflow models serve` for the same champion, each request carrying the candles it needs.

    .venv/bin/python bench/bench_api.py [--seconds 6] [--champion] [--mlflow] [--grpc-client both] [--json out.json]

The load generator shares the machine with the servers: on a small box the figures are a lower bound,
and only figures of one run (same conditions) compare.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Cell, find_h2load, find_wrk, grpc_cell, h2load_grpc_cell, python_cell, table, wrk_cell

from crypto_mlops.rpc.stubs import load as load_stubs

BIN = Path(sys.executable).parent
CONCURRENCY = (1, 16, 64)
CANDLES_FOR_MLFLOW = 1000  # what the HAR model needs (30-day window + warm-up); the API uses its cache


def run_python_json(code: str, env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Run `code` in a fresh interpreter (the benchmark's environment) and parse its last line as JSON."""
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=env["DATA_DIR"].rsplit("/", 1)[0],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout_s: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url} server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} not up after {timeout_s} s:\n{log.read_text()[-3000:]}")


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    # cwd = the run's temp dir: MLflow's default artifact root (./mlruns) lands there, not in the repo.
    return subprocess.Popen(
        cmd, env=env, stdout=handle, stderr=subprocess.STDOUT, cwd=log.parent, start_new_session=True
    )


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGINT)  # uvicorn/mlflow shut down cleanly on SIGINT
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def register_champion(env: dict[str, str], candidate: str) -> str:
    """Train on synthetic candles and register; returns the champion's version."""
    code = f"""
import json
from crypto_mlops.config import get_settings
from crypto_mlops.data import load_market_data
from crypto_mlops.models.registry import champion_version, get_client, promote
from crypto_mlops.models.training import train_and_register
s = get_settings()
data = load_market_data("synthetic", "BTC/USDT", "1h", limit=3000, settings=s)
res = train_and_register(data, s, candidate={candidate!r}, models=["naive", "ewma", "har"])
client = get_client(s)
champ = champion_version(client, s.model_name, s.model_alias)
if champ is None:  # the gate kept no champion: promote the candidate so both servers serve one model
    versions = client.search_model_versions(f"name='{{s.model_name}}'")
    latest = max(versions, key=lambda v: int(v.version))
    promote(s, latest.version, reason="benchmark")
    champ = champion_version(client, s.model_name, s.model_alias)
print(json.dumps({{"version": str(champ.version)}}))
"""
    return str(run_python_json(code, env, timeout=900)["version"])


def start_api(env: dict[str, str], log: Path, body: dict[str, Any]) -> tuple[str, subprocess.Popen[bytes], str]:
    """`crypto-mlops serve api` on a free port, warmed (model loaded, candles cached)."""
    port = free_port()
    proc = start([str(BIN / "crypto-mlops"), "serve", "api", "--port", str(port)], env, log)
    PROCS.append(proc)  # stopped by main's `finally` even when the wait below is interrupted
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/health", 180, proc, log)  # 200 only once the model is loaded and candles cached
    warm = httpx.post(f"{url}/v1/crypto/ml-signal", json=body, timeout=120)
    if warm.status_code != 200:
        raise RuntimeError(f"API ml-signal: {warm.status_code} {warm.text[:500]}")
    served = f"{warm.json()['ml_prediction']['model_type']} v{warm.json()['model_version']}"
    return url, proc, served


def mlflow_payload(env: dict[str, str]) -> dict[str, Any]:
    code = f"""
import json
from crypto_mlops.data import load_market_data
d = load_market_data("synthetic", "BTC/USDT", "1h", limit={CANDLES_FOR_MLFLOW})
f = d.frame.reset_index()
f["timestamp"] = f["timestamp"].dt.tz_localize(None).dt.strftime("%Y-%m-%dT%H:%M:%S")
print(json.dumps({{"dataframe_split": {{"columns": list(f.columns), "data": f.values.tolist()}},
                  "params": {{"last_only": True}}}}))
"""
    return run_python_json(code, env, timeout=120)


def start_bare(env: dict[str, str], log: Path, sync: bool) -> str:
    """The ceiling app under the same uvicorn flags as `crypto-mlops serve api` (no access log)."""
    port = free_port()
    app = "bench.bare_app:sync_app" if sync else "bench.bare_app:app"
    cmd = [str(BIN / "uvicorn"), "--app-dir", str(ROOT), app, "--port", str(port), "--no-access-log"]
    proc = start(cmd, env, log)
    PROCS.append(proc)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/docs", 60, proc, log)
    return url


def wait_ready(url: str, timeout_s: float, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready after {timeout_s} s")


def start_grpc(env: dict[str, str], log: Path) -> str:
    import grpc

    port = free_port()
    proc = start([str(BIN / "crypto-mlops"), "serve", "grpc", "--port", str(port)], env, log)
    PROCS.append(proc)
    target = f"127.0.0.1:{port}"
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=120)
    return target


MLFLOW_SKIPPED = (
    "mlflow models serve not loaded: it needs a registered model (--champion trains and registers one, "
    "a few minutes on a small box) and --mlflow; the API then serves that champion, so both run the same model"
)
PROCS: list[subprocess.Popen[bytes]] = []
ROOT = Path(__file__).resolve().parents[1]
GQL_ML = 'mutation { generateMlSignal(input: {symbol: "BTCUSDT", includeHeuristic: false}) ' + (
    "{ modelVersion mlPrediction { predictedRv24h confidence } } }"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="Load duration per cell.")
    parser.add_argument("--champion", action="store_true", help="Train and register a champion first.")
    parser.add_argument("--candidate", default="har", help="Model trained and registered with --champion.")
    parser.add_argument("--mlflow", action="store_true", help="Also load `mlflow models serve` (with --champion).")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk", help="HTTP load generator.")
    parser.add_argument(
        "--grpc-client", choices=("h2load", "python", "both"), default="h2load", help="gRPC load generator."
    )
    parser.add_argument("--only", default="", help="Comma-separated target names to run (default: all).")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()

    wrk = find_wrk() if args.client == "wrk" else None
    if args.client == "wrk" and wrk is None:
        print("wrk unavailable: falling back to the httpx client", flush=True)
    h2load = find_h2load() if args.grpc_client != "python" else None
    if args.grpc_client != "python" and h2load is None:
        print("h2load unavailable: falling back to the grpc.aio client", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    env = {
        **os.environ,
        "ENV": "development",
        "DATA_SOURCE": "synthetic",
        "DATA_DIR": str(work / "data"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}",
        "DATABASE_URL": f"sqlite:///{work / 'history.db'}",
        "PREDICTION_FEED": "periodic",
        "LOG_LEVEL": "WARNING",
        "OHLCV_CACHE_TTL_S": "300",
        # One client sends every request: the per-client rate limit (default 120/min) would answer 429s.
        "RATE_LIMIT_PER_MIN": "0",
        "GIT_PYTHON_REFRESH": "quiet",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # mlflow spawns `uvicorn` by name
    }
    notes: list[str] = []
    cells: list[Cell] = []
    ceiling: dict[int, Cell] = {}
    version: str | None = None
    try:
        if args.champion:
            print(f"registering a {args.candidate} champion in {work} ...", flush=True)
            try:
                version = register_champion(env, args.candidate)
            except Exception as exc:  # still benchmark the API (it then serves the HAR baseline)
                notes.append(f"no registered model ({str(exc).strip().splitlines()[-1][:200]})")
        body = {"symbol": "BTCUSDT", "timeframe": "1h", "limit": 200}
        ml_body = {**body, "include_heuristic": False}
        started = time.monotonic()
        api, _, served = start_api(env, work / "api.log", body)
        notes.append(f"API ready and warm {time.monotonic() - started:.1f} s after start; serves {served}")
        bare = start_bare(env, work / "bare.log", sync=False)
        bare_sync = start_bare(env, work / "bare-sync.log", sync=True)
        rpc = start_grpc(env, work / "grpc.log")
        print(f"API serves {served}", flush=True)

        http_targets: list[tuple[str, str, str, Any]] = [
            ("ceiling: bare FastAPI, async def", f"{bare}/v1/crypto/ml-signal", "POST", ml_body),
            ("bare FastAPI, sync def", f"{bare_sync}/v1/crypto/ml-signal", "POST", ml_body),
            ("REST POST /v1/crypto/signal", f"{api}/v1/crypto/signal", "POST", body),
            (f"REST POST /v1/crypto/ml-signal ({served})", f"{api}/v1/crypto/ml-signal", "POST", ml_body),
            ("REST GET /v1/crypto/signals/compare", f"{api}/v1/crypto/signals/compare?symbol=BTCUSDT", "GET", None),
            ("GraphQL generateMlSignal (API /graphql)", f"{api}/graphql", "POST", {"query": GQL_ML}),
        ]
        if version is not None and args.mlflow:
            http_targets.append(start_mlflow(env, work, version))
        else:
            notes.append(MLFLOW_SKIPPED)
        only = {name.strip() for name in args.only.split(",") if name.strip()}
        for name, url, method, payload in http_targets:
            if only and not any(o in name for o in only):
                continue
            for concurrency in CONCURRENCY:
                if wrk is not None:
                    cell = wrk_cell(wrk, name, url, concurrency, args.seconds, method, payload)
                else:
                    cell = python_cell(name, url, concurrency, args.seconds, method, payload)
                if name.startswith("ceiling"):
                    ceiling[concurrency] = cell
                report(cell, cells)
        grpc_name = "gRPC GenerateMLPrediction"
        if not only or any(o in grpc_name for o in only):
            drivers = ["h2load"] if h2load else []
            if args.grpc_client in ("python", "both") or h2load is None:
                drivers.append("python")
            for concurrency in CONCURRENCY:
                for driver in drivers:
                    report(grpc_load(driver, h2load, grpc_name, rpc, concurrency, args.seconds), cells)
    finally:
        for proc in PROCS:
            stop(proc)

    notes.extend(versus_rest(cells))
    host = f"{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()}"
    load = os.getloadavg()
    notes.append(f"load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min)")
    print("\n" + table(cells, ceiling))
    print(f"\nmachine: {host}")
    for note in notes:
        print(f"note: {note}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": host,
                    "seconds": args.seconds,
                    "notes": notes,
                    "cells": [asdict(c) for c in cells],
                    "ceiling_share": {
                        f"{c.target} @{c.concurrency}": round(c.rps / ceiling[c.concurrency].rps, 3)
                        for c in cells
                        if c.concurrency in ceiling and ceiling[c.concurrency].rps
                    },
                },
                indent=2,
            )
        )
    shutil.rmtree(work, ignore_errors=True)
    return 0


def grpc_load(driver: str, h2load: str | None, name: str, target: str, concurrency: int, seconds: float) -> Cell:
    """One gRPC cell, `GenerateMLPrediction` on cached candles; a Python call before and after checks the server."""
    import grpc

    pb2, pb2_grpc = load_stubs()
    request = pb2.MLPredictionRequest(symbol="BTCUSDT", include_heuristic=False)
    with grpc.insecure_channel(target) as channel:
        reply = pb2_grpc.CryptoServiceStub(channel).GenerateMLPrediction(request, timeout=60)
    if driver == "h2load" and h2load is not None:
        path = "/crypto.CryptoService/GenerateMLPrediction"
        size = 5 + reply.ByteSize()  # the timestamp has a fixed width: every reply has this size
        cell = h2load_grpc_cell(h2load, name, target, concurrency, seconds, path, request.SerializeToString(), size)
    else:
        cell = grpc_cell(name, target, concurrency, seconds, "GenerateMLPrediction", request)
    with grpc.insecure_channel(target) as channel:
        pb2_grpc.CryptoServiceStub(channel).GenerateMLPrediction(request, timeout=60)
    return cell


def versus_rest(cells: list[Cell]) -> list[str]:
    """GraphQL's and gRPC's req/s next to REST `ml-signal`'s at each concurrency (the "within 2x" check)."""
    rest = {c.concurrency: c for c in cells if c.target.startswith("REST POST /v1/crypto/ml-signal")}
    lines = []
    for cell in cells:
        ref = rest.get(cell.concurrency)
        if ref and cell.rps and (cell.target.startswith("gRPC") or cell.target.startswith("GraphQL")):
            ratio = ref.rps / cell.rps
            lines.append(f"{cell.target} ({cell.driver}) @{cell.concurrency}: REST ml-signal {ratio:.2f}x its req/s")
    return lines


def report(cell: Cell, cells: list[Cell]) -> None:
    cells.append(cell)
    print(
        f"{cell.target:<58} c={cell.concurrency:<3} {cell.rps:>9} req/s  p50 {cell.p50_ms:>8} ms  "
        f"p99 {cell.p99_ms:>8} ms  errors {cell.errors}",
        flush=True,
    )


def start_mlflow(env: dict[str, str], work: Path, version: str) -> tuple[str, str, str, Any]:
    port = free_port()
    cmd = [str(BIN / "mlflow"), "models", "serve", "-m", "models:/crypto-predictor@champion", "-p", str(port)]
    proc = start([*cmd, "-h", "127.0.0.1", "--env-manager", "local", "-w", "1"], env, work / "mlflow.log")
    PROCS.append(proc)
    wait_http(f"http://127.0.0.1:{port}/ping", 240, proc, work / "mlflow.log")
    payload = mlflow_payload(env)
    url = f"http://127.0.0.1:{port}/invocations"
    check = httpx.post(url, json=payload, timeout=60)
    if check.status_code != 200:
        raise RuntimeError(f"mlflow invocations: {check.status_code} {check.text[:500]}")
    return (f"mlflow models serve (v{version}, {CANDLES_FOR_MLFLOW} candles/request)", url, "POST", payload)


if __name__ == "__main__":
    raise SystemExit(main())
