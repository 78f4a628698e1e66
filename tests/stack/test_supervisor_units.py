"""Supervisor mechanics on tiny child processes: failed children are reported, nothing survives a stop."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
from rich.console import Console

from crypto_mlops.config import StackSettings
from crypto_mlops.stack import health
from crypto_mlops.stack.supervisor import (
    ChildProcess,
    Component,
    StackSupervisor,
    probe,
    read_state,
    status_table,
    stop_running_stack,
)

SLEEPER = [
    sys.executable,
    "-c",
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
    "'import time; time.sleep(300)']); time.sleep(300)",
]


def _supervisor(tmp_path: Path) -> StackSupervisor:
    settings = StackSettings(home=tmp_path / ".stack", start_timeout_s=20)
    sup = StackSupervisor(stack_settings=settings, console=Console(file=io.StringIO()), root=tmp_path)
    sup.logs.mkdir(parents=True)
    return sup


def test_failed_child_is_reported_and_stop_leaves_no_process(tmp_path: Path) -> None:
    sup = _supervisor(tmp_path)
    env = {"PATH": "/usr/bin:/bin"}
    good = ChildProcess("worker", SLEEPER, env, sup.logs / "worker.log")
    bad = ChildProcess(
        "broken",
        [sys.executable, "-c", "raise SystemExit('no such command: serve grpc')"],
        env,
        sup.logs / "broken.log",
        start_timeout=10,
    )
    sup.components = {
        "worker": Component("worker", "sleeps", health_spec={"type": "process"}, service=good),
        "broken": Component("broken", "exits at once", health_spec={"type": "process"}, service=bad),
        "after-broken": Component("after-broken", "depends on broken", service=bad, after=["broken"]),
    }
    sup.start_all()
    states = {c.name: c for c in sup.components.values()}
    assert states["worker"].state == "healthy" and states["worker"].health_spec["pid"] == good.pid
    assert states["broken"].state == "failed" and "no such command: serve grpc" in states["broken"].detail
    assert states["after-broken"].state == "failed" and "broken failed" in states["after-broken"].detail
    assert not sup.all_healthy()

    state = read_state(sup.home)
    assert state is not None and {c["name"] for c in state["components"]} == set(states)
    table = status_table(state, probe(state["components"]))
    text = Console(width=200, record=True)
    text.print(table)
    assert "no such command" in text.export_text()

    family = [good.pid, *(p.pid for p in psutil.Process(good.pid).children(recursive=True))]
    assert len(family) == 2
    sup.stop_all()
    time.sleep(0.2)
    assert not [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def test_stack_down_stops_supervisor_and_recorded_children(tmp_path: Path) -> None:
    home = tmp_path / ".stack"
    home.mkdir()
    supervisor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    child = subprocess.Popen(SLEEPER, start_new_session=True)
    time.sleep(0.5)
    family = [supervisor.pid, child.pid, *(p.pid for p in psutil.Process(child.pid).children(recursive=True))]
    (home / "state.json").write_text(
        json.dumps({"supervisor_pid": supervisor.pid, "components": [{"name": "x", "pid": child.pid}]})
    )
    found, _ = stop_running_stack(home, timeout=10)
    supervisor.wait(5)
    child.wait(5)
    assert found and not (home / "state.json").exists()
    assert not [pid for pid in family if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def test_health_probes_report_instead_of_raising() -> None:
    from crypto_mlops.stack.ports import free_port

    port = free_port()
    for spec in (
        {"type": "http", "url": f"http://127.0.0.1:{port}/health"},
        {"type": "graphql", "url": f"http://127.0.0.1:{port}/graphql"},
        {"type": "grpc", "target": f"127.0.0.1:{port}"},
        {"type": "kafka", "bootstrap": f"127.0.0.1:{port}"},
        {"type": "process", "pid": 2**22 + 1},
        {"type": "nonsense"},
    ):
        result = health.check(spec, timeout=1.0)
        assert result.ok is False and result.detail, spec


def test_http_probe_reads_nested_component_statuses() -> None:
    """Airflow answers 200 even when its scheduler is down; the probe must look inside."""
    import http.server
    import threading

    bodies = {
        "/ok": {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "healthy"}},
        "/bad": {"metadatabase": {"status": "healthy"}, "scheduler": {"status": "unhealthy"}},
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            payload = json.dumps(bodies[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        ok = health.check({"type": "http", "url": f"{base}/ok"})
        bad = health.check({"type": "http", "url": f"{base}/bad"})
    finally:
        server.shutdown()
    assert ok.ok and "scheduler ok" in ok.detail
    assert not bad.ok and "scheduler=unhealthy" in bad.detail
