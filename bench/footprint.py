"""Footprint and start-up benchmark (not a test): `crypto-mlops stack up` from a clean state, as `make up` runs it.

One run, everything on loopback, in a fresh temporary folder (its own STACK_HOME, MLflow store,
history database and data folder, free ports):
1. starts `crypto-mlops stack up` and records the seconds until the supervisor says all healthy
   (`healthy_after_s` of its state file) and the wall-clock seconds seen from here;
2. right after that, the first `POST /v1/crypto/ml-signal` (a new connection), then the first GraphQL
   `generateMlSignal` and gRPC `GenerateMLPrediction`;
3. light use for `--seconds` (default 300): every `--period` seconds one REST ml-signal, signal and
   compare, one GraphQL query and one gRPC call; latencies and errors are kept;
4. every `--sample` seconds, the resident memory (RSS, and PSS, which splits shared pages fairly) of
   the supervisor and every process it started, per component (from the state file's pids);
5. stops the stack (SIGTERM to the supervisor, as Ctrl-C does) and checks that no process is left.

    .venv/bin/python bench/footprint.py [--seconds 300] [--serving one|split] [--no-train] [--json out.json]

`--serving` sets STACK_SERVING (unset: the default). The figures are those of this machine under its
current load: only figures of one run, or of runs taken back to back, compare.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from crypto_mlops.stack.ports import free_port
from crypto_mlops.stack.statefile import read_state

CLI = [sys.executable, "-m", "crypto_mlops.cli.main"]
MB = 1024 * 1024
GQL_QUERY = "{ health { status } }"
GQL_ML = 'mutation { generateMlSignal(input: {symbol: "BTCUSDT"}) { modelVersion mlPrediction { prediction } } }'


def stack_env(tmp: Path, serving: str | None, train: bool, synthetic: bool) -> dict[str, str]:
    """A clean state in `tmp`: free ports, its own stores; nothing inherited that points elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AWS_", "STACK_", "DATABASE_URL"))}
    env.update(
        {
            "API_PORT": str(free_port()),
            "GRAPHQL_PORT": str(free_port()),
            "GRPC_PORT": str(free_port()),
            "MLFLOW_PORT": str(free_port()),
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "DATA_DIR": str(tmp / "data"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
            "DATABASE_URL": f"sqlite:///{tmp / 'history.db'}",
            "STACK_HOME": str(tmp / ".stack"),
            "STACK_BACKGROUND_TRAIN": "true" if train else "false",
        }
    )
    if synthetic:
        env["DATA_SOURCE"] = "synthetic"
    if serving:
        env["STACK_SERVING"] = serving
    return env


def wait_healthy(up: subprocess.Popen[bytes], home: Path, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and up.poll() is None:
        state = read_state(home)
        if state and state.get("healthy_after_s") is not None:
            return dict(state)
        if state and any(c["state"] == "failed" and c["required"] for c in state["components"]):
            raise RuntimeError(f"a component failed: {[(c['name'], c['detail']) for c in state['components']]}")
        time.sleep(0.1)
    raise RuntimeError(f"not healthy after {timeout:.0f} s (supervisor exit code {up.poll()})")


def grpc_client(target: str) -> Any:
    """A GenerateMLPrediction caller on a fresh channel."""
    import grpc

    from crypto_mlops.rpc.stubs import load

    pb2, pb2_grpc = load()
    stub = pb2_grpc.CryptoServiceStub(grpc.insecure_channel(target))

    def call() -> Any:
        return stub.GenerateMLPrediction(pb2.MLPredictionRequest(symbol="BTCUSDT"), timeout=10)

    return call


class Timings:
    """Latencies (ms) and errors per operation."""

    def __init__(self) -> None:
        self.ms: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}

    def time(self, name: str, fn: Any) -> float | None:
        t0 = time.perf_counter()
        try:
            result = fn()
            if isinstance(result, httpx.Response):
                result.raise_for_status()
                if "graphql" in str(result.url) and result.json().get("errors"):
                    raise RuntimeError(str(result.json()["errors"])[:200])
        except Exception:
            self.errors[name] = self.errors.get(name, 0) + 1
            return None
        ms = (time.perf_counter() - t0) * 1000
        self.ms.setdefault(name, []).append(ms)
        return ms

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name, values in self.ms.items():
            values = sorted(values)
            p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
            out[name] = {"n": len(values), "p50_ms": round(statistics.median(values), 2), "p99_ms": round(p99, 2)}
            out[name]["errors"] = self.errors.get(name, 0)
        return out


def component_pids(state: dict[str, Any] | None) -> dict[int, str]:
    """pid -> component name, for each component's process and its descendants."""
    owner: dict[int, str] = {}
    for component in (state or {}).get("components", []):
        pid = component.get("pid")
        if not pid:
            continue
        try:
            root = psutil.Process(int(pid))
            family = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in family:
            owner.setdefault(proc.pid, component["name"])
    return owner


def sample_memory(supervisor: int, state: dict[str, Any] | None) -> dict[str, Any]:
    """RSS and PSS (MB) of the supervisor's process tree, per component and in total."""
    owner = component_pids(state)
    try:
        root = psutil.Process(supervisor)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return {}
    per: dict[str, dict[str, float]] = {}
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        name = "supervisor" if proc.pid == supervisor else owner.get(proc.pid, "other")
        slot = per.setdefault(name, {"rss_mb": 0.0, "pss_mb": 0.0, "processes": 0})
        slot["rss_mb"] += info.rss / MB
        slot["pss_mb"] += getattr(info, "pss", info.rss) / MB
        slot["processes"] += 1
    per = {k: {m: round(v, 1) for m, v in d.items()} for k, d in sorted(per.items())}
    jobs = {c["name"] for c in (state or {}).get("components", []) if c.get("job")}
    total = {m: round(sum(d[m] for d in per.values()), 1) for m in ("rss_mb", "pss_mb")}
    servers = {m: round(sum(d[m] for k, d in per.items() if k not in jobs), 1) for m in ("rss_mb", "pss_mb")}
    return {"total": total, "without_jobs": servers, "components": per}


def stop(up: subprocess.Popen[bytes], family: set[int]) -> dict[str, Any]:
    t0 = time.monotonic()
    if up.poll() is None:
        up.send_signal(signal.SIGTERM)
    try:
        up.wait(timeout=120)
    except subprocess.TimeoutExpired:
        up.kill()
    seconds = round(time.monotonic() - t0, 1)
    survivors = []
    for pid in family:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                survivors.append(pid)
        except psutil.NoSuchProcess:
            pass
    for pid in survivors:  # our own children only: the stack we started
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()
    return {"stop_s": seconds, "survivors": survivors, "exit_code": up.returncode}


def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="footprint-"))
    env = stack_env(tmp, args.serving, args.train, args.synthetic)
    home = tmp / ".stack"
    log = (tmp / "up.log").open("wb")
    t0 = time.monotonic()
    up = subprocess.Popen([*CLI, "stack", "up"], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT,
                          start_new_session=True)  # fmt: skip
    family: set[int] = {up.pid}
    result: dict[str, Any] = {"serving": args.serving or "default", "train": args.train, "folder": str(tmp)}
    try:
        state = wait_healthy(up, home, args.timeout)
        result["healthy_after_s"] = state["healthy_after_s"]
        result["healthy_wall_s"] = round(time.monotonic() - t0, 1)
        api = f"http://127.0.0.1:{env['API_PORT']}"
        gql = f"http://127.0.0.1:{env['GRAPHQL_PORT']}/graphql"
        body = {"symbol": "BTCUSDT"}
        first = Timings()
        with httpx.Client(timeout=30) as fresh:
            first.time("rest_ml_signal", lambda: fresh.post(f"{api}/v1/crypto/ml-signal", json=body))
        with httpx.Client(timeout=30) as fresh:
            first.time("graphql_ml_signal", lambda: fresh.post(gql, json={"query": GQL_ML}))
        first.time("grpc_ml_prediction", grpc_client(f"127.0.0.1:{env['GRPC_PORT']}"))
        result["first_request_ms"] = {k: round(v[0], 1) for k, v in first.ms.items()}
        result["first_request_errors"] = first.errors
        result["components"] = {c["name"]: c["state"] for c in state["components"]}
        result["samples"] = [{"t_s": 0, **sample_memory(up.pid, state)}]

        use = Timings()
        grpc_call = grpc_client(f"127.0.0.1:{env['GRPC_PORT']}")
        started = time.monotonic()
        next_sample = started + args.sample
        with httpx.Client(timeout=30) as client:
            while (now := time.monotonic()) - started < args.seconds and up.poll() is None:
                use.time("rest_ml_signal", lambda: client.post(f"{api}/v1/crypto/ml-signal", json=body))
                use.time("rest_signal", lambda: client.post(f"{api}/v1/crypto/signal", json=body))
                use.time("rest_compare", lambda: client.get(f"{api}/v1/crypto/signals/compare?symbol=BTCUSDT"))
                use.time("graphql_ml_signal", lambda: client.post(gql, json={"query": GQL_ML}))
                use.time("graphql_health", lambda: client.post(gql, json={"query": GQL_QUERY}))
                use.time("grpc_ml_prediction", grpc_call)
                if now >= next_sample:
                    state = dict(read_state(home) or state)
                    family |= {p.pid for p in psutil.Process(up.pid).children(recursive=True)}
                    result["samples"].append({"t_s": round(now - started), **sample_memory(up.pid, state)})
                    next_sample += args.sample
                time.sleep(args.period)
        state = dict(read_state(home) or state)
        family |= {p.pid for p in psutil.Process(up.pid).children(recursive=True)}
        result["after_use"] = {"t_s": round(time.monotonic() - started), **sample_memory(up.pid, state)}
        result["use"] = use.summary()
        result["final_components"] = {c["name"]: c["state"] for c in state["components"]}
    finally:
        result["stop"] = stop(up, family)
        log.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="light use after ready (default 300)")
    parser.add_argument("--period", type=float, default=1.0, help="seconds between rounds of requests")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between memory samples")
    parser.add_argument("--serving", choices=("one", "split"), default=None, help="STACK_SERVING (default: unset)")
    parser.add_argument("--no-train", dest="train", action="store_false", help="no background training job")
    parser.add_argument("--synthetic", action="store_true", help="DATA_SOURCE=synthetic (skip the exchange probe)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up when not healthy after this")
    parser.add_argument("--json", type=Path, default=None, help="write the result here too")
    args = parser.parse_args()
    result = {"machine": f"{platform.node()} {os.cpu_count()} cores", "load_before": os.getloadavg(), **run(args)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
