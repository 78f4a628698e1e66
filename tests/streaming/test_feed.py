"""KafkaPredictionFeed fan-out without a broker: backlog, symbol filter, bounded queues."""

from __future__ import annotations

import asyncio
import json

from crypto_mlops.service.feed import PredictionFeed
from crypto_mlops.streaming import feed as feed_module
from crypto_mlops.streaming.feed import KafkaPredictionFeed


class OfflineFeed(KafkaPredictionFeed):
    def start(self) -> KafkaPredictionFeed:  # no reader thread: the test calls _dispatch itself
        return self


def event(symbol: str, n: int) -> bytes:
    return json.dumps({"symbol": symbol, "n": n}).encode()


def test_subscribers_get_the_backlog_then_live_events_of_their_symbols() -> None:
    feed = OfflineFeed(replay_last=2)
    assert isinstance(feed, PredictionFeed) and feed.name == "kafka"
    for n in range(3):
        feed._dispatch(event("BTC/USDT", n))

    async def scenario() -> list[dict]:
        got: list[dict] = []
        stream = feed.subscribe(["BTC/USDT"])
        got.append(await anext(stream))  # backlog: the last 2 events
        got.append(await anext(stream))
        feed._dispatch(event("ETH/USDT", 10))  # filtered out
        feed._dispatch(b"not json")  # ignored
        feed._dispatch(event("BTC/USDT", 11))
        got.append(await asyncio.wait_for(anext(stream), 2))
        await stream.aclose()
        return got

    got = asyncio.run(scenario())
    assert [(e["symbol"], e["n"]) for e in got] == [("BTC/USDT", 1), ("BTC/USDT", 2), ("BTC/USDT", 11)]
    assert all(e["feed"] == "kafka" for e in got)
    assert not feed._subscribers  # closing the stream unsubscribes


def test_a_slow_subscriber_loses_the_oldest_events(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(feed_module, "QUEUE_SIZE", 3)
    feed = OfflineFeed(replay_last=0)

    async def scenario() -> list[int]:
        stream = feed.subscribe()
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)  # the subscription is registered
        for n in range(10):
            feed._dispatch(event("BTC/USDT", n))
        await asyncio.sleep(0.05)  # let call_soon_threadsafe callbacks run
        got = [(await first)["n"]] + [(await anext(stream))["n"] for _ in range(2)]
        await stream.aclose()
        return got

    got = asyncio.run(scenario())
    assert got[-1] == 9 and len(got) == 3 and got == sorted(got)


def test_status_changes_reach_subscribers_and_late_joiners_hear_of_an_outage() -> None:
    feed = OfflineFeed(replay_last=5)
    feed._dispatch(event("BTC/USDT", 1))

    async def scenario() -> tuple[list[dict], list[dict]]:
        stream = feed.subscribe(["BTC/USDT"])
        first = [await anext(stream)]  # the backlog
        feed._set_state("down", "broker unreachable: Connection refused")
        first.append(await asyncio.wait_for(anext(stream), 2))
        late = feed.subscribe(["BTC/USDT"])
        second = [await anext(late), await anext(late)]  # the outage first, then the backlog
        feed._set_state("up")
        first.append(await asyncio.wait_for(anext(stream), 2))
        await stream.aclose()
        await late.aclose()
        return first, second

    first, second = asyncio.run(scenario())
    assert first[0]["n"] == 1
    assert first[1] | {"since": None} == {
        "event": "status",
        "feed": "kafka",
        "state": "down",
        "reason": "broker unreachable: Connection refused",
        "since": None,
    }
    assert first[2]["event"] == "status" and first[2]["state"] == "up"
    assert second[0]["state"] == "down" and second[1]["n"] == 1
    assert feed.outages == 1


def test_a_prediction_read_again_is_not_sent_again() -> None:
    feed = OfflineFeed(replay_last=10)
    for _ in range(2):  # e.g. re-read after an outage
        feed._dispatch(event("BTC/USDT", 1), key=b"BTC/USDT@2024-01-01T00:00:00Z")
    feed._dispatch(event("BTC/USDT", 2), key=b"BTC/USDT@2024-01-01T01:00:00Z")
    assert [e["n"] for e in feed._recent] == [1, 2] and feed.received == 2
