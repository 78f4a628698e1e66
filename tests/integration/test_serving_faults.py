"""Hostile requests against the real servers (`crypto-mlops serve api|graphql` as child processes).

Rows 1, 6, 7, 9 and 10 of issue 13: an alias bomb must be refused quickly while /health keeps
answering, non-finite numbers are a 422, a chunked 1 MB body a 413, many pairs stay within the cache
bound, and production refuses weak secrets in one line. Each test is bounded to a few seconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from crypto_mlops.stack.ports import free_port, wait_for_http

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
STRONG_KEY = "a-strong-api-key-for-tests"


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_S3_ENDPOINT_URL", "AWS_SECRET_ACCESS_KEY")}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")])),
        DATA_SOURCE="synthetic",
        DATABASE_URL=f"sqlite:///{tmp / 'history.db'}",
        MLFLOW_TRACKING_URI=f"sqlite:///{tmp / 'mlflow.db'}",
        MODEL_POLL_S="0",
        PREDICTION_FEED="periodic",
        OHLCV_CACHE_MAX_ENTRIES="40",
        RATE_LIMIT_PER_MIN="0",
        **extra,
    )
    return env


class Served:
    """`crypto-mlops serve <what>` on a free loopback port, stopped at the end."""

    def __init__(self, what: str, tmp: Path, **env: str) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "crypto_mlops.cli.main", "serve", what, "--port", str(self.port)],
            cwd=tmp,
            env=_env(tmp, **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        probe = f"{self.url}/health" if what == "api" else f"{self.url}/"
        wait_for_http(probe, timeout=60, alive=lambda: self.proc.poll() is None)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served("api", tmp_path_factory.mktemp("api"))
    httpx.get(f"{served.url}/v1/ml/model/info", timeout=60)  # model loaded: nothing left warming up
    yield served
    served.stop()


@pytest.fixture(scope="module")
def graphql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served("graphql", tmp_path_factory.mktemp("graphql"))
    yield served
    served.stop()


def alias_bomb(n: int) -> str:
    return "query{" + " ".join(f"a{i}: ohlcvData(input:{{limit:{50 + i}}}){{symbol}}" for i in range(n)) + "}"


def _health_latencies(url: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(f"{url}/health").raise_for_status()
            out.append(time.perf_counter() - started)
            time.sleep(0.02)


@pytest.mark.timeout(30)
def test_alias_bomb_is_refused_quickly_while_health_answers(api: Served) -> None:
    query = alias_bomb(380)
    assert len(query.encode()) < 16 * 1024
    latencies: list[float] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_health_latencies, args=(api.url, stop, latencies))
    watcher.start()
    try:
        time.sleep(0.3)
        for _ in range(5):
            started = time.perf_counter()
            r = httpx.post(f"{api.url}/graphql", json={"query": query}, timeout=30)
            assert time.perf_counter() - started < 1.0
            assert r.status_code == 200 and len(r.content) < 10_000 and r.json()["errors"]
        time.sleep(0.3)
    finally:
        stop.set()
        watcher.join()
    latencies.sort()
    assert len(latencies) >= 10
    assert latencies[len(latencies) // 2] < 0.1 and latencies[-1] < 0.5, latencies


@pytest.mark.timeout(30)
def test_standalone_graphql_has_the_same_limits_and_body_cap(graphql: Served) -> None:
    r = httpx.post(f"{graphql.url}/graphql", json={"query": alias_bomb(500)}, timeout=30)
    assert r.status_code == 413  # 500 aliases do not fit in 16 KiB
    r = httpx.post(f"{graphql.url}/graphql", json={"query": alias_bomb(300)}, timeout=30)
    assert r.status_code == 200 and r.json()["errors"] and r.elapsed.total_seconds() < 1.0


def _chunks() -> Iterator[bytes]:
    for _ in range(100):
        yield b" " * 10_000


@pytest.mark.timeout(30)
def test_chunked_megabyte_is_413_on_both_ports(api: Served, graphql: Served) -> None:
    for url in (f"{api.url}/v1/crypto/signal", f"{api.url}/graphql", f"{graphql.url}/graphql"):
        r = httpx.post(url, content=_chunks(), headers={"content-type": "application/json"}, timeout=10)
        assert r.status_code == 413, (url, r.status_code, r.text)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("raw", [b"1e400", b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_422(api: Served, raw: bytes) -> None:
    for path in ("/v1/crypto/signal", "/v1/crypto/ml-signal"):
        body = b'{"limit": ' + raw + b"}"
        r = httpx.post(f"{api.url}{path}", content=body, headers={"content-type": "application/json"}, timeout=10)
        assert r.status_code == 422, (path, raw, r.text)


@pytest.mark.timeout(60)
def test_many_pairs_stay_within_the_cache_bound(api: Served) -> None:
    with httpx.Client(timeout=10) as client:
        for i in range(300):
            r = client.get(f"{api.url}/v1/crypto/ohlcv", params={"symbol": f"Q{i:04d}USDT", "limit": 50})
            assert r.status_code == 200, r.text
        cache = client.get(f"{api.url}/metrics/limits").json()["ohlcv_cache"]
    assert cache["entries"] <= 40 and cache["evictions"] >= 260
    assert cache["bytes"] <= cache["max_bytes"]


def _run_cli(tmp: Path, *args: str, timeout: float = 30, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crypto_mlops.cli.main", *args],
        cwd=tmp,
        env=_env(tmp, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("command", "env", "named"),
    [
        (("serve", "api", "--port", "0"), {"API_KEY": "x"}, "API_KEY"),
        (("serve", "grpc", "--port", "0"), {"API_KEY": "dev-api-key"}, "API_KEY"),
        (
            ("model", "info"),
            {
                "API_KEY": STRONG_KEY,
                "MLFLOW_S3_ENDPOINT_URL": "http://127.0.0.1:9",
                "AWS_SECRET_ACCESS_KEY": "minioadmin",
            },
            "AWS_SECRET_ACCESS_KEY",
        ),
        (("serve", "api"), {"API_KEY": STRONG_KEY, "API_PORT": "not-a-port"}, "API_PORT"),
    ],
)
def test_production_refusals_are_one_line(
    tmp_path: Path, command: tuple[str, ...], env: dict[str, str], named: str
) -> None:
    done = _run_cli(tmp_path, *command, ENV="production", **env)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and named in lines[0] and "Traceback" not in done.stderr, done.stderr


@pytest.mark.timeout(60)
def test_production_with_a_strong_key_and_no_s3_serves(tmp_path: Path) -> None:
    served = Served("api", tmp_path, ENV="production", API_KEY=STRONG_KEY)
    try:
        assert httpx.get(f"{served.url}/health", timeout=10).status_code == 200
    finally:
        served.stop()
