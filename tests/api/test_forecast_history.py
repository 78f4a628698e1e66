"""`GET /v1/crypto/forecasts`: a live pair's point-in-time forecast history, paged, validated, no look-ahead."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from crypto_mlops.api.app import create_app
from crypto_mlops.config import Settings
from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.service import CacheKey, CryptoService
from crypto_mlops.service.forecast_history import REFITTABLE_MODELS
from crypto_mlops.service.market import default_market_loader
from tests.perturb import perturbed_after
from tests.service.fixtures import make_service


@pytest.fixture(scope="module")
def client(service: CryptoService) -> Iterator[TestClient]:
    with TestClient(create_app(service, start_service=False)) as c:
        yield c


def test_first_page_rows_name_their_model_and_band(client: TestClient) -> None:
    r = client.get("/v1/crypto/forecasts", params={"symbol": "BTC/USDT", "limit": 5})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["symbol"] == "BTC/USDT" and body["count"] == len(body["forecasts"]) == 5
    assert body["next_cursor"] > body["forecasts"][-1]["date"]
    assert body["available_from"] == body["forecasts"][0]["date"] and body["source"] == "synthetic"
    assert body["model_name"] and "no look-ahead" in body["method"]
    dates = [row["date"] for row in body["forecasts"]]
    assert dates == sorted(dates) and len(set(dates)) == 5
    for row in body["forecasts"]:
        assert row["model_name"] == body["model_name"] and row["model_version"].startswith(row["model_name"] + "@")
        assert row["fitted_until"] < row["date"]
        assert 0 < row["q10"] < row["q90"] and row["predicted_rv_24h"] > 0
        assert math.isclose(row["predicted_volatility"], row["predicted_rv_24h"] / math.sqrt(24))
        assert row["volatility_regime"] in {"calm", "normal", "turbulent"}


def test_cursor_walks_every_row_once_without_recomputing(client: TestClient, service: CryptoService) -> None:
    first = client.get("/v1/crypto/forecasts", params={"symbol": "ETHUSDT", "limit": 1000}).json()
    everything = [row["date"] for row in first["forecasts"]]
    assert first["next_cursor"] is None and everything[-1] == first["available_to"] == first["candle_time"]
    computed = service.forecast_history.computed
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, str | int] = {"symbol": "ETH/USDT", "limit": 97}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/crypto/forecasts", params=params).json()
        seen += [row["date"] for row in page["forecasts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert cursor > seen[-1]
    assert seen == everything
    assert service.forecast_history.computed == computed  # pages are slices of one memoized table


def test_from_to_bound_the_rows(client: TestClient) -> None:
    full = client.get("/v1/crypto/forecasts", params={"limit": 1000}).json()
    lo, hi = full["forecasts"][10]["date"], full["forecasts"][40]["date"]
    body = client.get("/v1/crypto/forecasts", params={"from": lo, "to": hi, "limit": 20}).json()
    assert body["start"] == lo and body["end"] == hi
    assert body["forecasts"][0]["date"] == lo and body["count"] == 20 and body["next_cursor"] is not None
    rest = client.get("/v1/crypto/forecasts", params={"from": lo, "to": hi, "cursor": body["next_cursor"]}).json()
    assert rest["forecasts"][-1]["date"] == hi and rest["count"] == 11 and rest["next_cursor"] is None
    day = client.get("/v1/crypto/forecasts", params={"from": lo[:10] + "T00:00:00Z", "to": lo[:10] + "T23:59:59Z"})
    assert day.json()["count"] >= 1 and all(row["date"].startswith(lo[:10]) for row in day.json()["forecasts"])
    before = client.get("/v1/crypto/forecasts", params={"to": "2001-01-01T00:00:00Z"}).json()
    assert before["count"] == 0 and before["next_cursor"] is None and before["available_from"] == full["available_from"]


def test_model_can_be_chosen(client: TestClient) -> None:
    body = client.get("/v1/crypto/forecasts", params={"model": "ewma", "limit": 2}).json()
    assert body["model_name"] == "ewma" and body["forecasts"][0]["model_version"].startswith("ewma@")


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"from": "yesterday-ish"}, 422, "from"),
        ({"to": "2026-01-31"}, 422, "to"),  # REST takes RFC 3339 date-times (GraphQL also takes dates)
        ({"to": "2026-02-30T00:00:00Z"}, 400, "to must be an ISO-8601"),
        (
            {"from": "2026-02-01T00:00:00+01:00", "to": "2026-01-01T00:00:00Z"},
            400,
            "from (2026-01-31T23:00:00Z) is after to",
        ),
        ({"cursor": "nope"}, 422, "cursor"),
        ({"symbol": "NOPE"}, 400, "symbol"),
        ({"symbol": "BTC/USDT/X"}, 422, "symbol"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": 1001}, 422, "limit"),
        ({"model": "nope"}, 400, "model must be one of"),
        ({"model": "bilstm"}, 400, "model must be one of"),
        ({"model": ""}, 400, "model must be one of"),  # empty is not "the default" (schemathesis found it)
        ({"timeframe": ""}, 400, "timeframe must be one of 1h"),
        ({"timeframe": "1m"}, 400, "timeframe must be one of 1h"),
        ({"timeframe": "1d"}, 400, "timeframe must be one of 1h"),
        ({"timeframe": "2y"}, 400, "timeframe must be one of 1h"),
    ],
)
def test_bad_requests_say_why(client: TestClient, params: dict[str, str | int], status: int, needle: str) -> None:
    r = client.get("/v1/crypto/forecasts", params=params)
    assert r.status_code == status, r.text
    assert needle.lower() in r.text.lower()


def test_the_service_checks_what_other_adapters_pass(service: CryptoService) -> None:
    with pytest.raises(InvalidInput, match="limit must be between 1 and 1000"):
        service.forecast_history.page("BTC/USDT", limit=5000)
    with pytest.raises(InvalidInput, match="to must be an ISO-8601"):
        service.forecast_history.page("BTC/USDT", end="2026-02-30")
    with pytest.raises(InvalidInput, match="cursor must be an ISO-8601"):
        service.forecast_history.page("BTC/USDT", cursor="next")


def test_far_dates_and_offsets_are_understood(client: TestClient) -> None:
    full = client.get("/v1/crypto/forecasts", params={"limit": 1000}).json()
    wide = {"from": "0001-01-01T00:00:00+05:00", "to": "9999-12-31T23:59:59-05:00", "limit": 1000}
    assert client.get("/v1/crypto/forecasts", params=wide).json()["forecasts"] == full["forecasts"]
    second = full["forecasts"][1]["date"]
    shifted = pd.Timestamp(second).tz_convert("Europe/Paris").isoformat()  # the same instant, another offset
    body = client.get("/v1/crypto/forecasts", params={"from": shifted, "limit": 1}).json()
    assert body["forecasts"][0]["date"] == second and body["start"] == second


def test_every_refittable_model_is_in_the_catalog() -> None:
    from crypto_mlops.models.catalog import LAZY
    from crypto_mlops.models.zoo import BASELINES, LEARNED

    assert set(REFITTABLE_MODELS) == {name for name in [*BASELINES, *LEARNED] if name not in LAZY}


def _loader(edit: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[CacheKey, int, Settings], MarketData]:
    def load(key: CacheKey, bars: int, settings: Settings) -> MarketData:
        data = default_market_loader(key, bars, settings)
        return replace(data, frame=edit(data.frame), meta={})

    return load


@pytest.mark.parametrize("back", [200, 10], ids=["walk-forward-rows", "last-day-rows"])
def test_forecast_at_an_origin_ignores_candles_after_it(tmp_path: Path, back: int) -> None:
    """Shock every candle after an origin: the forecast at that origin (and before) must not move."""
    plain = make_service(tmp_path / "a")
    n = len(plain.market("BTC/USDT", "1h", 50).data.frame)
    cut = n - 1 - back
    shocked = make_service(tmp_path / "b", market_loader=_loader(lambda f: perturbed_after(f, cut, seed=7)))
    try:
        origin = plain.market("BTC/USDT", "1h", 50).data.frame.index[cut]
        a = plain.forecast_history.page("BTC/USDT", end=str(origin), limit=1000, model="har")
        b = shocked.forecast_history.page("BTC/USDT", end=str(origin), limit=1000, model="har")
        assert a.forecasts[-1].date == b.forecasts[-1].date and pd.Timestamp(a.forecasts[-1].date) == origin
        assert a.forecasts == b.forecasts  # every row up to the origin, quantiles and refit included
        after_a = plain.forecast_history.page("BTC/USDT", start=str(origin), model="har").forecasts[1:]
        after_b = shocked.forecast_history.page("BTC/USDT", start=str(origin), model="har").forecasts[1:]
        assert after_a and after_a != after_b  # the shock does reach the forecasts after the origin
    finally:
        plain.close()
        shocked.close()


def test_a_young_pair_says_how_much_history_is_missing(tmp_path: Path) -> None:
    svc = make_service(tmp_path, market_loader=_loader(lambda f: f.iloc[-300:]))  # e.g. listed 12 days ago
    try:
        with TestClient(create_app(svc, start_service=False)) as c:
            r = c.get("/v1/crypto/forecasts", params={"symbol": "SOL/USDT"})
        assert r.status_code == 400
        assert "not enough cached 1h candles of SOL/USDT for a point-in-time forecast: 300 candles" in r.text
    finally:
        svc.close()
