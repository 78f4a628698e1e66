"""`GET /v1/crypto/screener`: every followed pair side by side, each naming the model behind its forecast."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from crypto_mlops.api.app import create_app
from crypto_mlops.service import CryptoService


@pytest.fixture(scope="module")
def client(service: CryptoService) -> Iterator[TestClient]:
    with TestClient(create_app(service, start_service=False)) as c:
        yield c


def test_default_pairs_each_with_their_own_forecast_and_model(client: TestClient, service: CryptoService) -> None:
    r = client.get("/v1/crypto/screener")
    assert r.status_code == 200, r.text
    body = r.json()
    expected = service.settings.pairs.split(",")
    assert sorted(f["pair"] for f in body["forecasts"]) == sorted(expected) and body["skipped"] == {}
    rv = [f["predicted_rv_24h"] for f in body["forecasts"]]
    assert rv == sorted(rv) and len(set(rv)) == len(rv)  # ascending, and a different number per pair
    for f in body["forecasts"]:
        assert f["model_name"] and f["model_version"] and f["model_type"]
        assert 0 < f["q10"] < f["q50"] < f["q90"]
        assert f["volatility_regime"] in {"calm", "normal", "turbulent"} and 0 <= f["risk_score"] <= 1


def test_sort_and_explicit_symbols(client: TestClient) -> None:
    body = client.get("/v1/crypto/screener", params={"symbols": "BTC/USDT,ETH/USDT", "sort": "-risk_score"}).json()
    risks = [f["risk_score"] for f in body["forecasts"]]
    assert body["sort"] == "-risk_score" and risks == sorted(risks, reverse=True) and len(risks) == 2
    by_pair = client.get("/v1/crypto/screener", params={"symbols": "ETH/USDT,BTC/USDT", "sort": "pair"}).json()
    assert [f["pair"] for f in by_pair["forecasts"]] == ["BTC/USDT", "ETH/USDT"]


@pytest.mark.parametrize("params", [{"sort": "volume"}, {"symbols": "NOPE"}, {"symbols": ","}])
def test_bad_input_is_refused(client: TestClient, params: dict[str, str]) -> None:
    assert client.get("/v1/crypto/screener", params=params).status_code in (400, 422)
