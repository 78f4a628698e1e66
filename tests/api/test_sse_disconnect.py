"""The SSE endpoint closes its feed subscription when the client goes away (PredictionFeed contract)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx

from crypto_mlops.api.app import create_app
from crypto_mlops.service import CryptoService
from tests.service.fixtures import UvicornThread


class RecordingFeed:
    name = "recording"

    def __init__(self) -> None:
        self.opened: list[list[str] | None] = []
        self.closed = 0

    async def subscribe(self, symbols: Sequence[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        self.opened.append(list(symbols) if symbols else None)
        try:
            i = 0
            while True:
                yield {"symbol": (symbols or ["BTC/USDT"])[0], "seq": i}
                i += 1
                await asyncio.sleep(0.05)
        finally:
            self.closed += 1

    def close(self) -> None:
        """Part of the feed protocol; the subscriptions close themselves."""


def test_client_disconnect_closes_the_subscription(service: CryptoService) -> None:
    feed = RecordingFeed()
    previous = service.feed
    service.set_prediction_feed(feed)
    try:
        with UvicornThread(create_app(service, start_service=False)) as server:
            seen: list[str] = []
            with httpx.stream("GET", f"{server.url}/v1/stream/predictions", params={"symbols": "ethusdt"}) as r:
                assert r.status_code == 200
                for line in r.iter_lines():
                    if line.startswith('data: {"symbol"'):
                        seen.append(line)
                    if len(seen) == 3:
                        break  # leaving the block closes the connection
            assert feed.opened == [["ETH/USDT"]]
            deadline = time.monotonic() + 10
            while feed.closed == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert feed.closed == 1
    finally:
        service.set_prediction_feed(previous)


class OutageFeed:
    """A feed whose source goes down and comes back between two predictions."""

    name = "outage"

    async def subscribe(self, symbols: Sequence[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        yield {"symbol": "BTC/USDT", "seq": 0}
        yield {"event": "status", "feed": "kafka", "state": "down", "reason": "broker unreachable"}
        yield {"event": "status", "feed": "kafka", "state": "up", "reason": ""}
        yield {"symbol": "BTC/USDT", "seq": 1}
        await asyncio.sleep(30)

    def close(self) -> None:
        """Nothing to release."""


def test_status_events_are_relayed_and_not_counted_as_predictions(service: CryptoService) -> None:
    previous = service.feed
    service.set_prediction_feed(OutageFeed())
    try:
        with UvicornThread(create_app(service, start_service=False)) as server:
            r = httpx.get(f"{server.url}/v1/stream/predictions", params={"max_events": 2}, timeout=20)
    finally:
        service.set_prediction_feed(previous)
    blocks = [b.split("retry: 3000\n")[-1] for b in r.text.split("\n\n") if "event:" in b]
    kinds = [b.split("\n")[0] for b in blocks]
    assert kinds == ["event: hello", "event: prediction", "event: status", "event: status", "event: prediction"]
    status = json.loads(blocks[2].split("data: ", 1)[1])
    assert status == {"feed": "kafka", "state": "down", "reason": "broker unreachable"}
