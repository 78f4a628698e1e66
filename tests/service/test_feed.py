"""Live feed selection and the built-in periodic feed."""

from __future__ import annotations

import asyncio
import time

import pytest

from crypto_mlops.config import get_settings
from crypto_mlops.service import CryptoService, PeriodicPredictionFeed, PredictionFeed, select_feed
from tests.service.fixtures import free_port


def test_periodic_mode_and_auto_without_broker_use_the_in_process_feed(
    service: CryptoService, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(select_feed(service.prediction_event, service.settings, "periodic"), PeriodicPredictionFeed)
    closed_port = free_port()  # nothing listens there
    settings = get_settings().model_copy(
        update={"kafka_bootstrap_servers": f"127.0.0.1:{closed_port}", "prediction_feed_interval_s": 0.5}
    )
    started = time.monotonic()
    feed = select_feed(service.prediction_event, settings, "auto")
    assert time.monotonic() - started < 10
    assert isinstance(feed, PeriodicPredictionFeed) and feed.interval_s == 0.5
    assert isinstance(feed, PredictionFeed)  # satisfies the protocol the streaming feed implements


def test_periodic_feed_yields_prediction_events(service: CryptoService) -> None:
    feed = PeriodicPredictionFeed(service.prediction_event, ["BTC/USDT"], interval_s=0.1)

    async def take(n: int) -> list[dict]:
        out = []
        sub = feed.subscribe(["ETH/USDT"])
        async for event in sub:
            out.append(event)
            if len(out) == n:
                break
        await sub.aclose()
        return out

    events = asyncio.run(take(2))
    assert [e["symbol"] for e in events] == ["ETH/USDT", "ETH/USDT"]
    e = events[0]
    assert e["ml_prediction"]["predicted_rv_24h"] > 0 and e["heuristic_signal"]["vol_regime"]
    assert e["price_data"]["price"] > 0 and e["source"] == "synthetic" and e["candle_time"].endswith("Z")
