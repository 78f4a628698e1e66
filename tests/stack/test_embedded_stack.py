"""`crypto-mlops stack up` for real: free ports, all healthy, `stack health`, `stack down`, no survivors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from crypto_mlops.stack.ports import free_port
from crypto_mlops.stack.statefile import read_state

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLI = [sys.executable, "-m", "crypto_mlops.cli.main"]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_embedded_stack_up_health_down(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_S3", "AWS_"))}
    env.update(
        {
            "API_PORT": str(free_port()),
            "GRAPHQL_PORT": str(free_port()),
            "GRPC_PORT": str(free_port()),
            "MLFLOW_PORT": str(free_port()),
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "DATA_SOURCE": "synthetic",
            "DATA_DIR": str(tmp_path / "data"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'history.db'}",
            "STACK_HOME": str(tmp_path / ".stack"),
            "STACK_START_TIMEOUT_S": "240",
            "STACK_BACKGROUND_TRAIN": "false",  # the learned model's training is covered by the pipeline tests
        }
    )
    log = (tmp_path / "up.log").open("w")
    started = time.monotonic()
    up = subprocess.Popen(
        [*CLI, "stack", "up"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    family: set[int] = set()
    try:
        state = None
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline and up.poll() is None:
            state = read_state(tmp_path / ".stack")
            family |= {p.pid for p in psutil.Process(up.pid).children(recursive=True)} if _alive(up.pid) else set()
            if state and state.get("healthy_after_s") is not None:
                break
            if state and any(c["state"] == "failed" and c["required"] for c in state["components"]):
                break
            time.sleep(1)
        output = (tmp_path / "up.log").read_text()
        assert state is not None and state.get("healthy_after_s") is not None, output[-4000:]
        print(f"embedded stack healthy after {state['healthy_after_s']} s (wall {time.monotonic() - started:.0f} s)")
        names = {c["name"] for c in state["components"]}
        assert {"api", "graphql", "grpc", "mlflow", "broker", "producer", "consumer", "bootstrap"} <= names
        assert "all components healthy" in output

        health = subprocess.run(
            [*CLI, "stack", "health", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        report = json.loads(health.stdout)
        assert health.returncode == 0 and report["healthy"], health.stdout[-3000:]
        by_name = {c["name"]: c for c in report["components"]}
        assert by_name["grpc"]["probe"] == "SERVING" and by_name["api"]["ok"] and by_name["broker"]["ok"]
        assert by_name["bootstrap"]["state"] == "done"  # a champion exists before the API served
        # REST, GraphQL and gRPC run in one process by default (STACK_SERVING=one), each port probed.
        pids = {c["name"]: c["pid"] for c in state["components"]}
        assert pids["api"] == pids["graphql"] == pids["grpc"] and pids["api"] is not None
        # Ready means the champion is served (not the fallback baseline), though the server started early.
        info = httpx.get(f"http://127.0.0.1:{env['API_PORT']}/v1/ml/model/info", timeout=30).json()
        assert info["model_loaded"] and not info["fallback"], info
        family |= {p.pid for p in psutil.Process(up.pid).children(recursive=True)}

        down = subprocess.run(
            [*CLI, "stack", "down"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
        )
        assert down.returncode == 0, down.stdout + down.stderr
        up.wait(timeout=120)
        assert "no child process left" in (tmp_path / "up.log").read_text()
        time.sleep(1)
        survivors = [pid for pid in family if _alive(pid)]
        assert not survivors, [psutil.Process(p).cmdline() for p in survivors]
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
        for pid in family:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        log.close()
