"""`GET /v1/freqtrade/pairlist`: RemotePairList's shape, ranked and filtered by the RV24 forecast."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from crypto_mlops.api.app import create_app
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.service import CryptoService
from crypto_mlops.service.screener import Screener, parse_pairs

PAIRS = "BTC/USDT,ETH/USDT,SOL/USDT,BNB/USDT"


@pytest.fixture(scope="module")
def client(service: CryptoService) -> Iterator[TestClient]:
    with TestClient(create_app(service, start_service=False)) as c:
        yield c


def _get(client: TestClient, **params: Any) -> Any:
    r = client.get("/v1/freqtrade/pairlist", params={"symbols": PAIRS, **params})
    assert r.status_code == 200, r.text
    return r.json()


def test_answer_is_what_remote_pairlist_reads_ranked_by_forecast(client: TestClient) -> None:
    body = _get(client)
    assert set(body) >= {"pairs", "refresh_period"} and body["refresh_period"] == 1800
    assert sorted(body["pairs"]) == sorted(PAIRS.split(","))
    rv = [f["predicted_rv_24h"] for f in body["forecasts"]]
    assert rv == sorted(rv) and [f["pair"] for f in body["forecasts"]] == body["pairs"]
    first = body["forecasts"][0]
    # The live answer carries the calibrated band: q10 < median < q90, and the point forecast lies inside.
    assert 0 < first["q10"] < first["q50"] < first["q90"] and first["q10"] < first["predicted_rv_24h"] < first["q90"]
    assert first["volatility_regime"] in {"calm", "normal", "turbulent"} and 0 <= first["risk_score"] <= 1
    desc = _get(client, sort="rv_desc", refresh_period=600)
    assert desc["pairs"] == body["pairs"][::-1] and desc["refresh_period"] == 600
    risk = _get(client, sort="risk_desc")["forecasts"]
    assert [f["risk_score"] for f in risk] == sorted((f["risk_score"] for f in risk), reverse=True)


def test_filters_and_top(client: TestClient) -> None:
    full = _get(client)["forecasts"]
    cut = (full[1]["predicted_rv_24h"] + full[2]["predicted_rv_24h"]) / 2
    below = _get(client, max_rv_24h=cut)
    assert below["pairs"] == [f["pair"] for f in full[:2]] and set(below["filtered"]) == {f["pair"] for f in full[2:]}
    above = _get(client, min_rv_24h=cut, top=1)
    assert above["pairs"] == [full[2]["pair"]]
    assert _get(client, max_rv_24h=0.0)["pairs"] == []


def test_freqtrade_spellings_come_back_as_asked(client: TestClient) -> None:
    r = client.get("/v1/freqtrade/pairlist", params={"symbols": "BTC/USDT:USDT, ETH/USDT:USDT,BTC/USDT:USDT"})
    assert r.status_code == 200
    assert sorted(r.json()["pairs"]) == ["BTC/USDT:USDT", "ETH/USDT:USDT"]


@pytest.mark.parametrize(
    "params",
    [{"sort": "volume"}, {"symbols": "NOPE"}, {"refresh_period": 5}, {"top": 0}, {"max_rv_24h": -1}, {"symbols": ","}],
)
def test_bad_input_is_refused(client: TestClient, params: dict[str, Any]) -> None:
    r = client.get("/v1/freqtrade/pairlist", params={"symbols": PAIRS, **params})
    assert r.status_code in (400, 422), r.text


def test_missing_symbols_is_422(client: TestClient) -> None:
    assert client.get("/v1/freqtrade/pairlist").status_code == 422


class _Source:
    """ml_signal/signal stand-ins: ETH's data is down, the rest answer with fixed numbers."""

    def ml_signal(self, symbol: str | None, *args: Any, **kwargs: Any) -> Any:
        if symbol == "ETH/USDT":
            raise DataUnavailable("exchange down")
        rv = {"BTC/USDT": 0.04, "SOL/USDT": 0.02}[str(symbol)]
        p = SimpleNamespace(
            predicted_rv_24h=rv,
            predicted_volatility=rv / 24**0.5,
            volatility_regime="normal",
            model_name="crypto-predictor",
            model_type="har_x",
            model_version="1",
            model_alias="champion",
            rv_24h_q10=rv * 0.7,
            rv_24h_q50=rv * 0.95,
            rv_24h_q90=rv * 1.4,
        )
        return SimpleNamespace(ml_prediction=p, candle_time="2024-01-01T00:00:00Z")

    def signal(self, symbol: str | None, *args: Any, **kwargs: Any) -> Any:
        return SimpleNamespace(risk_score=0.5, risk_level="medium")


def _screener() -> Screener:
    source = _Source()
    return Screener(lambda s, tf, ex: source.ml_signal(s, tf, ex), lambda s, tf, ex: source.signal(s, tf, ex))


def test_an_unavailable_pair_is_skipped_with_its_reason_and_intervals_become_quantiles() -> None:
    result = _screener().pairlist("BTC/USDT,ETH/USDT,SOL/USDT")
    assert result.pairs == ["SOL/USDT", "BTC/USDT"] and result.skipped == {"ETH/USDT": "exchange down"}
    assert result.forecasts[0].q10 == pytest.approx(0.014) and result.forecasts[0].q90 == pytest.approx(0.028)
    with pytest.raises(DataUnavailable):
        _screener().pairlist("ETH/USDT")


def test_parse_pairs_limits() -> None:
    assert parse_pairs(" btcusdt ,ETH/USDT:USDT") == [("btcusdt", "BTC/USDT"), ("ETH/USDT:USDT", "ETH/USDT")]
    with pytest.raises(InvalidInput):
        parse_pairs(",".join(f"C{i}X/USDT" for i in range(51)))
