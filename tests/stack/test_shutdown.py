"""`stack down` from another shell: the supervisor and every recorded child (with its children) end."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

from crypto_mlops.stack.shutdown import stop_running_stack
from tests.stack.helpers import SLEEPER


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
