"""REST limits: non-finite numbers are 422 (never 500), chunked oversize bodies 413, heavy routes rate-limited."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crypto_mlops.api.app import create_app
from crypto_mlops.service import CryptoService
from tests.service.fixtures import make_service

NON_FINITE = (b"1e400", b"-1e400", b"NaN", b"Infinity", b"-Infinity")


@pytest.fixture(scope="module")
def client(service: CryptoService) -> Iterator[TestClient]:
    with TestClient(create_app(service, start_service=False)) as c:
        yield c


@pytest.mark.parametrize("path", ["/v1/crypto/signal", "/v1/crypto/ml-signal"])
@pytest.mark.parametrize("field", ["limit", "horizon_min", "explain", "include_heuristic"])
def test_non_finite_numbers_in_bodies_are_422(client: TestClient, path: str, field: str) -> None:
    for raw in NON_FINITE:
        body = b'{"' + field.encode() + b'": ' + raw + b"}"
        r = client.post(path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 422, (path, body, r.status_code, r.text)
        assert r.json()["detail"][0]["loc"][-1] == field


def test_a_non_finite_body_is_422(client: TestClient) -> None:
    for raw in NON_FINITE:
        r = client.post("/v1/crypto/signal", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422, r.text


@pytest.mark.parametrize("value", ["inf", "-inf", "NaN", "Infinity", "1e400", "1.5"])
def test_non_finite_numbers_in_queries_are_422(client: TestClient, value: str) -> None:
    for url in (
        f"/v1/crypto/ohlcv?limit={value}",
        f"/v1/dashboard/chart?points={value}",
        f"/v1/crypto/signals/tail?n={value}",
    ):
        assert client.get(url).status_code == 422, url


def test_integral_floats_count_as_integers_like_the_schema_says(client: TestClient) -> None:
    r = client.post("/v1/crypto/signal", json={"limit": 120.0, "horizon_min": 30.0})
    assert r.status_code == 200 and r.json()["horizon_min"] == 30
    assert client.post("/v1/crypto/signal", json={"limit": 120.5}).status_code == 422
    assert client.post("/v1/crypto/signal", json={"limit": "120"}).status_code == 422


def test_chunked_oversize_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 10_000  # 1 MB without Content-Length

    r = client.post("/v1/crypto/signal", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than 16384 bytes" in r.json()["detail"]


def test_a_chunked_body_under_the_cap_still_works(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"limit": '
        yield b"120}"

    r = client.post("/v1/crypto/signal", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text


def test_error_details_do_not_echo_huge_input(client: TestClient) -> None:
    r = client.get("/v1/crypto/ohlcv", params={"exchange": "x" * 5000})
    assert r.status_code == 422 and len(r.content) < 2000


def test_heavy_routes_are_rate_limited_per_client(tmp_path: Path) -> None:
    svc = make_service(tmp_path, settings={"rate_limit_per_min": 0.01, "rate_limit_burst": 2})
    with TestClient(create_app(svc, start_service=False)) as c:
        assert [c.get("/v1/crypto/signals/compare").status_code for _ in range(2)] == [200, 200]
        refused = c.post("/v1/crypto/ml-signal")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1 and "rate limit" in refused.json()["detail"]
        assert c.get("/v1/dashboard/chart").status_code == 429
        gql = c.post("/graphql", json={"query": "{ ohlcvData { rows } }"})
        assert gql.status_code == 429  # one budget for REST and GraphQL
        assert int(gql.headers["Retry-After"]) >= 1 and gql.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        for free in ("{ __typename }", "{ health { status } modelInfo { modelName } }"):
            assert c.post("/graphql", json={"query": free}).status_code == 200  # probes cost nothing
        assert c.get("/health").status_code == 200  # light routes are never limited
        assert c.post("/v1/crypto/signal").status_code == 200
        assert c.get("/metrics/limits").json()["rate_limit"]["refused"] == 3
    svc.close()


def test_rate_limit_zero_means_off(tmp_path: Path) -> None:
    svc = make_service(tmp_path, settings={"rate_limit_per_min": 0, "rate_limit_burst": 1})
    with TestClient(create_app(svc, start_service=False)) as c:
        assert all(c.get("/v1/crypto/signals/compare").status_code == 200 for _ in range(4))
    svc.close()


def test_limits_are_reported_as_json_and_prometheus(client: TestClient) -> None:
    client.get("/v1/crypto/ohlcv")
    body = client.get("/metrics/limits").json()
    cache = body["ohlcv_cache"]
    assert cache["entries"] >= 1 and 0 < cache["bytes"] <= cache["max_bytes"]
    assert cache["max_entries"] == 256 and body["max_body_bytes"] == 16384
    text = client.get("/metrics/prometheus").text
    assert "crypto_ohlcv_cache_entries " in text and "crypto_ohlcv_cache_evictions_total" in text


def test_a_query_parameter_given_twice_is_refused(tmp_path: Path) -> None:
    svc = make_service(tmp_path, settings={"rate_limit_per_min": 0})
    with TestClient(create_app(svc, start_service=False)) as client:
        r = client.get("/v1/dashboard/chart", params=[("points", "5"), ("points", "x")])
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "points"]
        assert client.get("/v1/dashboard/chart", params={"points": "5"}).status_code == 200
