"""Shared bits of the stack tests."""

from __future__ import annotations

import sys

#: A process with a child of its own, both sleeping: "stopped" must mean both are gone.
SLEEPER = [
    sys.executable,
    "-c",
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
    "'import time; time.sleep(300)']); time.sleep(300)",
]
