"""GraphQL: queries and mutations of SPEC-SEED §2 on /graphql (API) and the standalone app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crypto_mlops.api.app import create_app
from crypto_mlops.gql.app import create_graphql_app
from crypto_mlops.service import CryptoService


@pytest.fixture(scope="module")
def api(service: CryptoService) -> Iterator[TestClient]:
    with TestClient(create_app(service, start_service=False)) as c:
        yield c


@pytest.fixture(scope="module")
def standalone(service: CryptoService) -> Iterator[TestClient]:
    with TestClient(create_graphql_app(service, start_service=False)) as c:
        yield c


def gql(client: TestClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert r.status_code == 200, r.text
    return r.json()


# A full generateSignal mutation with every seed field (SPEC-SEED §2).
SEED_EXAMPLE = """
mutation {
  generateSignal(input: {symbol: "BTCUSDT", horizonMin: 60, explain: true}) {
    symbol horizonMin riskScore nowcastRet volRegime timestamp method
    explanation { nowcastRet vol volRegime riskScore featuresTail { time close ret vol24 sma12 sma48 } }
    error
  }
}
"""


def test_health_and_model_info(api: TestClient) -> None:
    data = gql(
        api,
        "{ health { status mlAvailable timestamp version } modelInfo { modelLoaded modelVersion "
        "modelName mlflowUri sequenceLength modelType fallback fallbackReason metrics } }",
    )["data"]
    assert data["health"]["status"] == "ok" and data["health"]["timestamp"].endswith("Z")
    info = data["modelInfo"]
    assert info["modelLoaded"] is True and info["modelName"] and info["modelVersion"]
    assert info["fallback"] is True and info["mlflowUri"]


def test_ohlcv_data(api: TestClient) -> None:
    q = (
        '{ ohlcvData(input: {symbol: "ETHUSDT", limit: 60}) { symbol exchange timeframe rows source candleTime '
        "data { timestamp open high low close volume time } error } }"
    )
    r = gql(api, q)["data"]["ohlcvData"]
    assert r["symbol"] == "ETH/USDT" and r["rows"] == 60 and len(r["data"]) == 60
    assert r["data"][-1]["timestamp"] > 1.5e12  # epoch ms, not 0 as in the seed
    assert r["candleTime"] == r["data"][-1]["time"] and r["error"] is None


def test_generate_signal_seed_example(api: TestClient) -> None:
    s = gql(api, SEED_EXAMPLE)["data"]["generateSignal"]
    assert s["symbol"] == "BTC/USDT" and s["method"] == "heuristic"
    assert s["timestamp"].endswith("Z")  # never set by the seed
    assert 0 <= s["riskScore"] <= 1 and s["volRegime"] in {"calm", "normal", "turbulent"}
    assert len(s["explanation"]["featuresTail"]) == 5
    assert s["explanation"]["riskScore"] == s["riskScore"]


def test_generate_ml_signal(api: TestClient) -> None:
    q = """mutation($input: MLSignalInput!) { generateMlSignal(input: $input) {
      symbol timestamp method modelVersion source candleTime
      mlPrediction { prediction currentVolatility volatilityRegime riskLevel confidence predictionTimestamp
                     predictedRv24h modelType error }
      heuristicComparison { heuristicRiskScore heuristicVolRegime volatilityDiff regimeMatch } error } }"""
    m = gql(api, q, {"input": {"symbol": "BTC/USDT", "includeHeuristic": True}})["data"]["generateMlSignal"]
    p = m["mlPrediction"]
    assert m["method"] == "ml" and m["modelVersion"]
    assert p["prediction"] > 0 and 0 < p["confidence"] <= 1 and p["predictionTimestamp"].endswith("Z")
    hc = m["heuristicComparison"]
    assert hc["volatilityDiff"] == pytest.approx(p["prediction"] - _heuristic_vol(api))
    assert isinstance(hc["regimeMatch"], bool)


def _heuristic_vol(api: TestClient) -> float:
    return gql(api, "{ compareSignals { heuristic { volatility } } }")["data"]["compareSignals"]["heuristic"][
        "volatility"
    ]


def test_compare_signals(api: TestClient) -> None:
    q = (
        '{ compareSignals(input: {symbol: "BTCUSDT"}) { symbol timestamp source '
        "heuristic { riskScore volRegime volatility riskLevel } "
        "ml { predictedVolatility volRegime confidence riskLevel modelVersion } "
        "comparison { volatilityDiff regimeAgreement mlConfidence } "
        "heuristicRiskScore heuristicVolRegime heuristicVolatility mlPredictedVolatility mlVolRegime mlConfidence "
        "mlRiskLevel volatilityDiff regimeAgreement error } }"
    )
    c = gql(api, q)["data"]["compareSignals"]
    assert c["ml"]["confidence"] > 0 and c["ml"]["riskLevel"] in {"low", "medium", "high"}
    assert c["comparison"]["mlConfidence"] == c["ml"]["confidence"]
    # The seed's flat SignalComparison fields agree with the nested ones.
    assert c["mlConfidence"] == c["ml"]["confidence"] and c["mlRiskLevel"] == c["ml"]["riskLevel"]
    assert c["heuristicRiskScore"] == c["heuristic"]["riskScore"] and c["regimeAgreement"] is not None
    assert c["volatilityDiff"] == c["comparison"]["volatilityDiff"] and c["error"] is None
    assert c["comparison"]["volatilityDiff"] == pytest.approx(
        c["ml"]["predictedVolatility"] - c["heuristic"]["volatility"]
    )


@pytest.mark.parametrize(
    ("query", "needle", "code"),
    [
        ('{ ohlcvData(input: {symbol: "NOPE"}) { rows } }', "invalid symbol", "BAD_USER_INPUT"),
        ('{ ohlcvData(input: {timeframe: "9x"}) { rows } }', "invalid timeframe", "BAD_USER_INPUT"),
        ("{ compareSignals(input: {limit: 3}) { symbol } }", "limit must be between", "BAD_USER_INPUT"),
        ("mutation { generateSignal(input: {horizonMin: -5}) { symbol } }", "horizonMin", "BAD_USER_INPUT"),
    ],
)
def test_errors_are_graphql_errors(api: TestClient, query: str, needle: str, code: str) -> None:
    body = gql(api, query)
    assert body["data"] is None
    assert needle in body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == code


def test_schema_type_errors_are_reported(api: TestClient) -> None:
    r = api.post("/graphql", json={"query": '{ ohlcvData(input: {limit: "many"}) { rows } }'})
    assert "Int cannot represent" in r.text


def test_standalone_app_serves_the_same_schema(standalone: TestClient) -> None:
    root = standalone.get("/").json()
    assert root["graphql_endpoint"] == "/graphql"
    s = gql(standalone, SEED_EXAMPLE)["data"]["generateSignal"]
    assert s["symbol"] == "BTC/USDT" and s["explanation"]["featuresTail"]


def test_screener_query_matches_rest(api: TestClient) -> None:
    query = """{ screener(symbols: "BTC/USDT,ETH/USDT", sort: "-predicted_rv_24h") {
        sort skipped forecasts { pair predictedRv24h q10 q50 q90 volatilityRegime riskScore modelName modelVersion }
    } }"""
    body = gql(api, query)
    assert "errors" not in body, body
    got = body["data"]["screener"]
    rv = [f["predictedRv24h"] for f in got["forecasts"]]
    assert got["sort"] == "-predicted_rv_24h" and rv == sorted(rv, reverse=True) and got["skipped"] == {}
    rest = api.get("/v1/crypto/screener", params={"symbols": "BTC/USDT,ETH/USDT", "sort": "-predicted_rv_24h"}).json()
    assert [f["pair"] for f in got["forecasts"]] == [f["pair"] for f in rest["forecasts"]]
    assert [f["predictedRv24h"] for f in got["forecasts"]] == [f["predicted_rv_24h"] for f in rest["forecasts"]]
    assert all(f["modelName"] and f["q10"] < f["q90"] for f in got["forecasts"])
    bad = gql(api, '{ screener(sort: "volume") { sort } }')
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_pairs_query_lists_the_followed_pairs(api: TestClient) -> None:
    body = gql(api, "{ pairs { pairs defaultSymbol } }")
    assert "errors" not in body, body
    rest = api.get("/v1/dashboard/pairs").json()
    assert body["data"]["pairs"] == {"pairs": rest["pairs"], "defaultSymbol": rest["default_symbol"]}


def test_forecasts_query_pages_like_rest(api: TestClient) -> None:
    rows = "forecasts { date predictedRv24h q10 q90 volatilityRegime modelVersion }"
    fields = f"count nextCursor modelName availableFrom {rows}"
    first = gql(api, f'{{ forecasts(symbol: "BTC/USDT", limit: 3) {{ {fields} }} }}')
    assert "errors" not in first, first
    page = first["data"]["forecasts"]
    rest = api.get("/v1/crypto/forecasts", params={"symbol": "BTC/USDT", "limit": 3}).json()
    assert page["count"] == 3 and page["nextCursor"] == rest["next_cursor"] and page["modelName"] == rest["model_name"]
    assert [r["date"] for r in page["forecasts"]] == [r["date"] for r in rest["forecasts"]]
    assert [r["predictedRv24h"] for r in page["forecasts"]] == [r["predicted_rv_24h"] for r in rest["forecasts"]]
    cursor = page["nextCursor"]
    second = gql(api, f'{{ forecasts(symbol: "BTC/USDT", limit: 2, cursor: "{cursor}") {{ {fields} }} }}')
    assert second["data"]["forecasts"]["forecasts"][0]["date"] == cursor
    window = gql(api, f'{{ forecasts(from: "{cursor}", to: "{cursor}") {{ {fields} }} }}')["data"]["forecasts"]
    assert [r["date"] for r in window["forecasts"]] == [cursor] and window["nextCursor"] is None


def test_forecasts_query_refuses_bad_input(api: TestClient) -> None:
    for args, needle in [
        ('from: "2026-02-01", to: "2026-01-01"', "is after to"),
        ('from: "soon"', "from must be an ISO-8601"),
        ('symbol: "NOPE"', "symbol"),
        ("limit: 0", "limit must be between 1 and 1000"),
        ('model: "bilstm"', "model must be one of"),
    ]:
        body = gql(api, f"{{ forecasts({args}) {{ count }} }}")
        assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", (args, body)
        assert needle.lower() in body["errors"][0]["message"].lower(), (args, body)
