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
from crypto_mlops.data.market import MarketData
from crypto_mlops.service import CacheKey, CryptoService
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
    day = client.get("/v1/crypto/forecasts", params={"from": lo[:10], "to": lo[:10]}).json()
    assert all(row["date"].startswith(lo[:10]) for row in day["forecasts"])
    before = client.get("/v1/crypto/forecasts", params={"to": "2001-01-01"}).json()
    assert before["count"] == 0 and before["next_cursor"] is None and before["available_from"] == full["available_from"]


def test_model_can_be_chosen(client: TestClient) -> None:
    body = client.get("/v1/crypto/forecasts", params={"model": "ewma", "limit": 2}).json()
    assert body["model_name"] == "ewma" and body["forecasts"][0]["model_version"].startswith("ewma@")


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"from": "yesterday-ish"}, 400, "from must be an ISO-8601"),
        ({"to": "2026-13-45"}, 400, "to must be an ISO-8601"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, 400, "is after to"),
        ({"cursor": "nope"}, 400, "cursor must be"),
        ({"symbol": "NOPE"}, 400, "symbol"),
        ({"symbol": "BTC/USDT/X"}, 422, "symbol"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": 1001}, 422, "limit"),
        ({"model": "nope"}, 400, "model must be one of"),
        ({"model": "bilstm"}, 400, "model must be one of"),
        ({"model": "Bad Model"}, 422, "model"),
        ({"timeframe": "1m"}, 400, "not enough cached 1m candles"),
        ({"from": "x" * 41}, 422, "from"),
    ],
)
def test_bad_requests_say_why(client: TestClient, params: dict[str, str | int], status: int, needle: str) -> None:
    r = client.get("/v1/crypto/forecasts", params=params)
    assert r.status_code == status, r.text
    assert needle.lower() in r.text.lower()


def test_the_service_checks_the_page_size_too(service: CryptoService) -> None:
    from crypto_mlops.data.errors import InvalidInput

    with pytest.raises(InvalidInput, match="limit must be between 1 and 1000"):
        service.forecast_history.page("BTC/USDT", limit=5000)


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
