"""GraphQL document limits on both ports: refused before any resolver runs, cheap documents still answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from graphql import get_introspection_query

from crypto_mlops.api.app import create_app
from crypto_mlops.gql.app import create_graphql_app
from crypto_mlops.service import CryptoService
from tests.service.fixtures import make_service


@pytest.fixture(scope="module", params=["api", "standalone"])
def client(request: pytest.FixtureRequest, service: CryptoService) -> Iterator[TestClient]:
    make = create_app if request.param == "api" else create_graphql_app
    with TestClient(make(service, start_service=False)) as c:
        yield c


def alias_bomb(n: int) -> str:
    return "query{" + " ".join(f"a{i}: ohlcvData(input:{{limit:{50 + i % 900}}}){{symbol}}" for i in range(n)) + "}"


def errors_of(client: TestClient, query: str) -> list[str]:
    r = client.post("/graphql", json={"query": query})
    assert r.status_code == 200, r.text
    return [e["message"] for e in r.json().get("errors") or []]


def test_alias_bomb_is_refused_before_anything_runs(client: TestClient, service: CryptoService) -> None:
    query = alias_bomb(380)
    assert len(query.encode()) < 16 * 1024  # the tester's document fits under the body cap
    misses = service.cache.stats().misses
    started = time.perf_counter()
    errors = errors_of(client, query)
    assert time.perf_counter() - started < 2.0
    assert errors and "tokens" in errors[0]
    assert service.cache.stats().misses == misses  # no resolver ran


def test_aliases_over_the_limit_are_refused(client: TestClient) -> None:
    query = "query{" + " ".join(f"h{i}: health{{status}}" for i in range(16)) + "}"
    assert any("aliases" in e.lower() for e in errors_of(client, query))


def test_service_calls_are_counted_through_fragments(client: TestClient) -> None:
    fields = " ".join(f"m{i}: modelInfo{{modelName}}" for i in range(6))
    more = fields.replace("m", "n")
    query = f"query{{ ...A ...B }} fragment A on Query {{ {fields} }} fragment B on Query {{ health{{status}} {more} }}"
    errors = errors_of(client, query)
    assert any("13 service calls" in e for e in errors), errors


def test_depth_is_limited_but_introspection_is_not(tmp_path: Path) -> None:
    svc = make_service(tmp_path, settings={"graphql_max_depth": 2})
    with TestClient(create_graphql_app(svc, start_service=False)) as shallow:
        nested = "mutation{ generateMlSignal { heuristicComparison { mlVsHeuristic { volatilityDiff } } } }"
        assert any("exceeds maximum operation depth" in e for e in errors_of(shallow, nested))
        assert not errors_of(shallow, "query{ health { status } }")
        r = shallow.post("/graphql", json={"query": get_introspection_query()})
        assert r.status_code == 200 and "errors" not in r.json()
    svc.close()


def test_a_normal_query_still_answers(client: TestClient) -> None:
    query = "query{ a: ohlcvData(input:{limit:60}){rows} b: ohlcvData(input:{limit:70}){rows} health{status} }"
    r = client.post("/graphql", json={"query": query})
    assert r.json()["data"]["a"]["rows"] == 60 and r.json()["data"]["b"]["rows"] == 70


def test_non_finite_variables_are_bad_input_not_a_crash(client: TestClient) -> None:
    query = "query($l: Int){ ohlcvData(input:{limit:$l}){rows} }"
    for raw in (b"NaN", b"Infinity", b"1e400"):
        body = b'{"query": "' + query.encode() + b'", "variables": {"l": ' + raw + b"}}"
        r = client.post("/graphql", content=body, headers={"content-type": "application/json"})
        assert r.status_code in (200, 400), r.text
        assert r.json()["errors"], r.text


def test_oversize_bodies_get_413_with_or_without_content_length(client: TestClient) -> None:
    r = client.post("/graphql", content=b"{" + b" " * 20_000 + b"}", headers={"content-type": "application/json"})
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 10_000

    r = client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


def test_an_operation_costs_one_call_per_market_service_call(tmp_path: Path) -> None:
    svc = make_service(tmp_path, settings={"rate_limit_per_min": 0.01, "rate_limit_burst": 3})
    with TestClient(create_graphql_app(svc, start_service=False)) as c:
        three = "query{ a: ohlcvData{rows} b: ohlcvData(input:{limit:60}){rows} compareSignals{symbol} health{status} }"
        assert "errors" not in c.post("/graphql", json={"query": three}).json()
        refused = c.post("/graphql", json={"query": "query{ ohlcvData{rows} }"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert c.post("/graphql", json={"query": "{ __typename }"}).json() == {"data": {"__typename": "Query"}}
        named = "query Cheap { health { status } } query Dear { ohlcvData { rows } }"
        assert c.post("/graphql", json={"query": named, "operationName": "Cheap"}).status_code == 200
    svc.close()
