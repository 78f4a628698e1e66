"""Serving benchmark (not a test): REST signal endpoints vs the same model under `mlflow models serve`.

One run, everything on loopback, no network:
1. a throw-away MLflow store (SQLite) gets a registered `crypto-predictor` version with alias
   `champion`, trained on synthetic candles (`--candidate har` by default: quick to train);
2. `crypto-mlops serve api` serves that champion; its OHLCV cache is warmed, so requests never wait
   on a data source;
3. `mlflow models serve -m models:/crypto-predictor@champion` serves the same model; each of its
   requests carries the candles the model needs (it has no cache), `params={"last_only": true}`;
4. closed-loop load with 1, 16 and 64 concurrent clients (httpx, asyncio) per target, for
   `--seconds` each: requests/s, p50 and p99 latency, errors.

    .venv/bin/python bench/bench_api.py [--seconds 6] [--candidate har] [--json out.json]

The load generator shares the machine with the servers: on a small box the figures are a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

BIN = Path(sys.executable).parent
CONCURRENCY = (1, 16, 64)
CANDLES_FOR_MLFLOW = 1000  # what the HAR model needs (30-day window + warm-up); the API uses its cache


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
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", 180, proc, log)
    warm = httpx.post(f"{url}/v1/crypto/ml-signal", json=body, timeout=120)
    if warm.status_code != 200:
        raise RuntimeError(f"API ml-signal: {warm.status_code} {warm.text[:500]}")
    served = f"{warm.json()['ml_prediction']['model_type']} v{warm.json()['model_version']}"
    return url, proc, served


async def load(name: str, concurrency: int, seconds: float, send: Callable[[httpx.AsyncClient], Any]) -> Cell:
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        for _ in range(2):  # warm the connections and the server
            await send(client)
        stop_at = time.perf_counter() + seconds
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                try:
                    response = await send(client)
                    ok = response.status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return Cell(
        name,
        concurrency,
        len(latencies),
        errors,
        round(elapsed, 2),
        round(len(latencies) / elapsed, 1),
        round(pct(0.50), 1),
        round(pct(0.99), 1),
    )


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


def table(cells: list[Cell]) -> str:
    rows = ["| target | clients | req/s | p50 ms | p99 ms | requests | errors |", "|---|---:|---:|---:|---:|---:|---:|"]
    rows += [
        f"| {c.target} | {c.concurrency} | {c.rps} | {c.p50_ms} | {c.p99_ms} | {c.requests} | {c.errors} |"
        for c in cells
    ]
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0, help="Load duration per cell.")
    parser.add_argument("--candidate", default="har", help="Model trained and registered for the run.")
    parser.add_argument("--skip-mlflow", action="store_true", help="Only benchmark the API.")
    parser.add_argument("--json", type=Path, help="Also write the results here.")
    args = parser.parse_args()

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
        "GIT_PYTHON_REFRESH": "quiet",
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # mlflow spawns `uvicorn` by name
    }
    api_proc = api_raw_proc = mlflow_proc = None
    notes: list[str] = []
    cells: list[Cell] = []
    try:
        print(f"registering a {args.candidate} champion in {work} ...", flush=True)
        version: str | None
        try:
            version = register_champion(env, args.candidate)
        except Exception as exc:  # still benchmark the API (it then serves the HAR baseline)
            version = None
            notes.append(f"no registered model ({str(exc).strip().splitlines()[-1][:200]}): mlflow column skipped")

        body = {"symbol": "BTCUSDT", "timeframe": "1h", "limit": 200}
        api, api_proc, served = start_api(env, work / "api.log", body)
        # Same app with the per-candle result memo off: every request runs the heuristic / the model.
        api_raw, api_raw_proc, _ = start_api({**env, "SIGNAL_MEMO": "0"}, work / "api-raw.log", body)
        print(f"API serves {served}", flush=True)

        ml_body = {**body, "include_heuristic": False}
        targets: list[tuple[str, Callable[[httpx.AsyncClient], Any]]] = [
            ("REST /v1/crypto/signal", lambda c: c.post(f"{api}/v1/crypto/signal", json=body)),
            (f"REST /v1/crypto/ml-signal ({served})", lambda c: c.post(f"{api}/v1/crypto/ml-signal", json=ml_body)),
            ("REST /v1/crypto/signal, SIGNAL_MEMO=0", lambda c: c.post(f"{api_raw}/v1/crypto/signal", json=body)),
            (
                f"REST /v1/crypto/ml-signal ({served}), SIGNAL_MEMO=0",
                lambda c: c.post(f"{api_raw}/v1/crypto/ml-signal", json=ml_body),
            ),
        ]
        if version is not None and not args.skip_mlflow:
            mlflow_port = free_port()
            mlflow_proc = start(
                [
                    str(BIN / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    "models:/crypto-predictor@champion",
                    "-p",
                    str(mlflow_port),
                    "-h",
                    "127.0.0.1",
                    "--env-manager",
                    "local",
                    "-w",
                    "1",
                ],
                env,
                work / "mlflow.log",
            )
            wait_http(f"http://127.0.0.1:{mlflow_port}/ping", 240, mlflow_proc, work / "mlflow.log")
            payload = mlflow_payload(env)
            check = httpx.post(f"http://127.0.0.1:{mlflow_port}/invocations", json=payload, timeout=60)
            if check.status_code != 200:
                raise RuntimeError(f"mlflow invocations: {check.status_code} {check.text[:500]}")
            url = f"http://127.0.0.1:{mlflow_port}/invocations"
            targets.append(
                (
                    f"mlflow models serve /invocations (v{version}, {CANDLES_FOR_MLFLOW} candles/request)",
                    lambda c: c.post(url, json=payload),
                )
            )
        elif args.skip_mlflow:
            notes.append("mlflow column skipped (--skip-mlflow)")

        for name, send in targets:
            for concurrency in CONCURRENCY:
                cell = asyncio.run(load(name, concurrency, args.seconds, send))
                cells.append(cell)
                print(
                    f"{name:<70} c={concurrency:<3} {cell.rps:>8} req/s  p50 {cell.p50_ms:>8} ms  "
                    f"p99 {cell.p99_ms:>8} ms  errors {cell.errors}",
                    flush=True,
                )
    finally:
        stop(api_proc)
        stop(api_raw_proc)
        stop(mlflow_proc)

    host = f"{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()}"
    print("\n" + table(cells))
    print(f"\nmachine: {host}")
    for note in notes:
        print(f"note: {note}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": host, "seconds": args.seconds, "notes": notes, "cells": [asdict(c) for c in cells]},
                indent=2,
            )
        )
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
