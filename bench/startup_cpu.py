"""Start-up CPU benchmark (not a test): CPU seconds each component spends until the stack is all healthy.

On a shared machine the seconds to "all healthy" follow the other jobs' load; the CPU seconds the
stack itself burns until then do much less, so they show what a start-up change saved. Same clean
state as `bench/footprint.py` (its `stack_env`): a fresh temporary folder, free ports.

    .venv/bin/python bench/startup_cpu.py [--no-train] [--json out.json]

Each component's CPU (user + system) is sampled from its process while it runs (a process that
ended, such as the bootstrap, keeps its last sample); `supervisor` is the `stack up` process itself.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from footprint import CLI, stack_env  # the same clean state as the footprint benchmark

from crypto_mlops.stack.statefile import read_state


def cpu_seconds(pid: int) -> float | None:
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return None
    return round(times.user + times.system, 2)


def run(train: bool, timeout: float) -> dict[str, Any]:
    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="startup-cpu-"))
    env = stack_env(tmp, None, train, False)
    with open(tmp / "up.log", "wb") as log:
        up = subprocess.Popen([*CLI, "stack", "up"], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
    home, cpu, by_pid = tmp / ".stack", {}, {}
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    try:
        while time.monotonic() < deadline and up.poll() is None:
            state = dict(read_state(home) or {})
            for component in state.get("components", []):
                seconds = cpu_seconds(component["pid"]) if component["pid"] else None
                if seconds is not None:
                    cpu[component["name"]] = by_pid[component["pid"]] = seconds
            if state.get("healthy_after_s") is not None:
                break
            time.sleep(0.3)
        cpu["supervisor"] = by_pid[up.pid] = cpu_seconds(up.pid) or 0.0
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(60)
    return {
        "load_before": load_before,
        "healthy_after_s": state.get("healthy_after_s"),
        "cpu_s": cpu,
        "cpu_s_total": round(sum(by_pid.values()), 1),  # api, graphql and grpc share one process
        "folder": str(tmp),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-train", dest="train", action="store_false", help="no background training job")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up when not healthy after this")
    parser.add_argument("--json", type=Path, default=None, help="write the result here too")
    args = parser.parse_args()
    text = json.dumps(run(args.train, args.timeout), indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
