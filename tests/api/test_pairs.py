"""PAIRS drives the defaults: the dashboard's pair list, the SSE feed and `stream produce` without --symbols."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from crypto_mlops.api.app import create_app
from crypto_mlops.config import get_settings
from crypto_mlops.service import CryptoService, select_feed
from tests.service.fixtures import make_service


@pytest.fixture(scope="module")
def client(service: CryptoService) -> Iterator[TestClient]:
    with TestClient(create_app(service, start_service=False)) as c:
        yield c


def test_pairs_endpoint_lists_the_setting_normalized(tmp_path: Path) -> None:
    svc = make_service(
        tmp_path, settings={"pairs": " ethusdt,BTC-USDT,ETH/USDT ,sol_usdt", "default_symbol": "btcusdt"}
    )
    try:
        with TestClient(create_app(svc, start_service=False)) as c:
            body = c.get("/v1/dashboard/pairs").json()
        assert body == {"pairs": ["ETH/USDT", "BTC/USDT", "SOL/USDT"], "default_symbol": "BTC/USDT"}
    finally:
        svc.close()


def test_empty_pairs_fall_back_to_the_default_symbol(tmp_path: Path) -> None:
    svc = make_service(tmp_path, settings={"pairs": "", "default_symbol": "ETH/USDT"})
    try:
        assert svc.settings.pair_list() == ["ETH/USDT"]
        assert svc.screener.pairs().pairs == ["ETH/USDT"]
        assert [f.pair for f in svc.screener.screen().forecasts] == ["ETH/USDT"]
    finally:
        svc.close()


def test_sse_without_symbols_streams_every_followed_pair(client: TestClient, service: CryptoService) -> None:
    followed = service.screener.pairs().pairs
    assert service.sse_symbols(None) == followed
    with client.stream("GET", "/v1/stream/predictions", params={"max_events": len(followed)}) as r:
        text = "".join(r.iter_text())
    hello = json.loads(text.split("event: hello\ndata: ", 1)[1].split("\n", 1)[0])
    assert hello["symbols"] == followed
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith('data: {"symbol"')]
    assert sorted(e["symbol"] for e in events) == sorted(followed)


def test_periodic_feed_defaults_to_pairs(service: CryptoService) -> None:
    feed = select_feed(service.prediction_event, service.settings, "periodic")
    assert feed.default_symbols == service.settings.pair_list()  # type: ignore[attr-defined]
    assert service.feed.default_symbols == service.settings.pair_list()  # type: ignore[attr-defined]


def test_stream_produce_sends_pairs_when_no_symbols_are_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from crypto_mlops.cli.stream import Mode, _source

    monkeypatch.setenv("PAIRS", "SOL/USDT,btcusdt")
    get_settings.cache_clear()
    try:
        ticks, label = _source(Mode.simulate, None, None, None, None, 4, None, None, 10.0, True, threading.Event())
        assert label == "synthetic 1h ['SOL/USDT', 'BTC/USDT']"
        assert {t.symbol for t in ticks} == {"SOL/USDT", "BTC/USDT"}
        _, explicit = _source(Mode.simulate, "ETH/USDT", None, None, None, 2, None, None, 10.0, True, threading.Event())
        assert explicit == "synthetic 1h ['ETH/USDT']"
    finally:
        get_settings.cache_clear()
