"""The SSE endpoint closes its feed subscription when the client goes away (PredictionFeed contract)."""

from __future__ import annotations

import asyncio
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
