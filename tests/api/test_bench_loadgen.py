"""The serving benchmark's gRPC driver: how h2load's output becomes a cell (no h2load needed: a stand-in)."""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path
from types import ModuleType

import pytest

LOADGEN = Path(__file__).resolve().parents[2] / "bench" / "loadgen.py"

# What h2load prints for a 2 s run of 10 calls; 804 DATA bytes = 8 replies of 100 bytes and change.
FAKE_H2LOAD = """#!{python}
import sys
log = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--log-file="))
with open(log, "w") as f:
    for i in range(10):
        f.write(f"{{1700000000000000 + i}}\\t200\\t{{(i + 1) * 1000}}\\n")
print("finished in 2.00s, 5.00 req/s, 1.00KB/s")
print("requests: 10 total, 10 started, 10 done, 10 succeeded, 0 failed, 0 errored, 0 timeout")
print("status codes: 10 2xx, 0 3xx, 0 4xx, 0 5xx")
print("traffic: 1.95KB (2000) total, 100B (100) headers (space savings 90.00%), 804B (804) data")
"""


@pytest.fixture(scope="module")
def loadgen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_loadgen", LOADGEN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def test_grpc_frame_is_length_prefixed(loadgen: ModuleType) -> None:
    assert loadgen.grpc_frame(b"abc") == b"\x00\x00\x00\x00\x03abc"
    assert loadgen.grpc_frame(b"") == b"\x00\x00\x00\x00\x00"


def test_h2load_cell_counts_calls_without_a_reply_as_errors(loadgen: ModuleType, tmp_path: Path) -> None:
    fake = tmp_path / "h2load"
    fake.write_text(FAKE_H2LOAD.format(python=sys.executable))
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    cell = loadgen.h2load_grpc_cell(str(fake), "gRPC", "127.0.0.1:1", 4, 2, "/svc/Method", b"\x08\x01", 100)
    # HTTP said 10 x 200, but only 8 replies came back: the other 2 ended with a grpc-status in trailers.
    assert (cell.requests, cell.errors) == (8, 2)
    assert cell.rps == 4.0 and cell.seconds == 2.0
    assert (cell.p50_ms, cell.p99_ms) == (6.0, 10.0)  # from the per-request log (1..10 ms)
    assert cell.driver == "h2load" and cell.concurrency == 4
