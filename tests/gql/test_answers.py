"""GraphQL signal resolvers reuse current answers (service/answers.py): same data, every call recorded,
errors unchanged; repeated documents are parsed and validated once, limits still enforced."""

from __future__ import annotations

from asyncio import run
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import crypto_mlops.gql.calls as calls
import crypto_mlops.gql.lane as lane
from crypto_mlops.api.app import create_app
from crypto_mlops.gql.app import create_graphql_app
from crypto_mlops.gql.limits import GraphQLLimits
from crypto_mlops.gql.schema import build_schema
from tests.service.fixtures import make_service

ML = """mutation { generateMlSignal(input: {symbol: "BTCUSDT", includeHeuristic: true}) {
  timestamp modelVersion mlPrediction { predictedRv24h confidence volatilityRegime }
  heuristicComparison { heuristicRiskScore } } }"""


def test_repeated_mutation_reuses_the_answer_and_records_each_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[int] = []
    call_service = calls.call_service

    async def counting(*args: Any) -> Any:
        computed.append(1)
        return await call_service(*args)

    monkeypatch.setattr(calls, "call_service", counting)
    svc = make_service(tmp_path)
    with TestClient(create_app(svc, start_service=False)) as c:
        before = svc.history.count("ml_predictions")
        bodies = [c.post("/graphql", json={"query": ML}).json() for _ in range(3)]
        assert all("errors" not in b for b in bodies), bodies
        assert len(computed) == 1  # the first call computed in the pool; the next two reused its answer
        data = [b["data"]["generateMlSignal"] for b in bodies]
        assert all(
            {k: v for k, v in d.items() if k != "timestamp"} == {k: v for k, v in data[0].items() if k != "timestamp"}
            for d in data
        )
        direct = svc.ml_signal("BTCUSDT", "1h", 200, True, "binance", record=False)
        assert data[-1]["mlPrediction"]["predictedRv24h"] == direct.ml_prediction.predicted_rv_24h
        assert svc.history.count("ml_predictions") == before + 3
        tail = svc.recorder.tail("ml_predictions", 3)
        assert [row["timestamp"] for row in tail] == [d["timestamp"] for d in data]

        bad = c.post("/graphql", json={"query": ML.replace("BTCUSDT", "ZZZZZZ")}).json()
        assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    svc.close()


def test_cached_validation_still_enforces_the_limits() -> None:
    schema = build_schema(GraphQLLimits(max_depth=2, max_aliases=1))
    deeper = "mutation{ generateMlSignal { heuristicComparison { mlVsHeuristic { volatilityDiff } } } }"
    aliased = "query { a: __typename b: __typename }"
    for _ in range(3):  # later runs are answered by the parse and validation caches
        result = run(schema.execute(deeper))
        assert result.errors and "exceeds maximum operation depth" in str(result.errors[0])
        result = run(schema.execute(aliased))
        assert result.errors and "aliases" in str(result.errors[0])
        assert run(schema.execute("{ __typename }")).errors is None


@pytest.fixture
def lane_hits(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether each templated request was answered by the GraphQL lane."""
    hits: list[bool] = []
    answer = lane.GraphQLLane._answer

    async def spy(self: lane.GraphQLLane, *args: Any) -> bool:
        hit = await answer(self, *args)
        hits.append(hit)
        return hit

    monkeypatch.setattr(lane.GraphQLLane, "_answer", spy)
    return hits


@pytest.mark.parametrize("standalone", [False, True])
def test_lane_answers_repeated_documents_like_strawberry(
    tmp_path: Path, lane_hits: list[bool], standalone: bool
) -> None:
    svc = make_service(tmp_path)
    app = create_graphql_app(svc, start_service=False) if standalone else create_app(svc, start_service=False)
    with TestClient(app) as c:
        before = svc.history.count("ml_predictions")
        responses = [c.post("/graphql", json={"query": ML}) for _ in range(4)]
        assert lane_hits == [True, True, True]  # the first took strawberry and left a template
        assert [r.status_code for r in responses] == [200] * 4
        first = responses[0].json()["data"]["generateMlSignal"]
        for r in responses:
            assert r.headers["content-type"] == responses[0].headers["content-type"]
            data = r.json()["data"]["generateMlSignal"]
            assert {k: v for k, v in data.items() if k != "timestamp"} == {
                k: v for k, v in first.items() if k != "timestamp"
            }
            stamp = data["timestamp"]
            assert r.content == responses[0].content.replace(first["timestamp"].encode(), stamp.encode())
        assert svc.history.count("ml_predictions") == before + 4
        tail = svc.recorder.tail("ml_predictions", 4)
        assert [row["timestamp"] for row in tail] == [
            r.json()["data"]["generateMlSignal"]["timestamp"] for r in responses
        ]
    svc.close()


def test_lane_never_templates_documents_with_other_fields(tmp_path: Path, lane_hits: list[bool]) -> None:
    svc = make_service(tmp_path)
    mixed = ML.replace("mutation {", "mutation { a: generateSignal(input: {explain: false}) { riskScore } ")
    query = "{ compareSignals { timestamp ml { predictedRv24h } } ohlcvData(input: {limit: 60}) { rows } }"
    with TestClient(create_app(svc, start_service=False)) as c:
        for _ in range(3):
            assert "errors" not in c.post("/graphql", json={"query": mixed}).json()
            assert c.post("/graphql", json={"query": query}).json()["data"]["ohlcvData"]["rows"] == 60
    assert lane_hits == []
    svc.close()


def test_lane_keeps_the_rate_limit(tmp_path: Path, lane_hits: list[bool]) -> None:
    svc = make_service(tmp_path, settings={"rate_limit_per_min": 0.01, "rate_limit_burst": 2})
    with TestClient(create_app(svc, start_service=False)) as c:
        ok = [c.post("/graphql", json={"query": ML}) for _ in range(2)]
        refused = c.post("/graphql", json={"query": ML})
        assert [r.status_code for r in ok] == [200, 200]
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        assert c.get("/metrics/limits").json()["rate_limit"]["refused"] == 1
    assert lane_hits == [True, False]
    svc.close()
