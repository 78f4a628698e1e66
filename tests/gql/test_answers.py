"""GraphQL signal resolvers reuse current answers (service/answers.py): same data, every call recorded,
errors unchanged; repeated documents are parsed and validated once, limits still enforced."""

from __future__ import annotations

from asyncio import run
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import crypto_mlops.gql.calls as calls
from crypto_mlops.api.app import create_app
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
    resolve = calls.resolve

    async def counting(*args: Any) -> Any:
        computed.append(1)
        return await resolve(*args)

    monkeypatch.setattr(calls, "resolve", counting)
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
