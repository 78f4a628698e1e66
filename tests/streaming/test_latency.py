"""Latency of the stream: measured from the broker timestamp, and a quiet stream is not batched up."""

from __future__ import annotations

import time
from typing import Any

import pytest

from crypto_mlops.config import Settings
from crypto_mlops.streaming.consumer import StreamConsumer, consumer_overrides
from crypto_mlops.streaming.processor import Incoming, StreamProcessor
from tests.streaming.helpers import tick


def test_answers_carry_the_latency_from_the_broker_timestamp() -> None:
    proc = StreamProcessor()
    sent_ms = int(time.time() * 1000) - 250  # the broker stamped it 250 ms ago
    out = proc.process([Incoming(tick(hour=h), "t/0/1", broker_ms=sent_ms) for h in range(3)])
    assert all(p.broker_latency_ms is not None and p.broker_latency_ms >= 250 for p in out.predictions)
    assert all(p.processing_latency_ms < p.broker_latency_ms for p in out.predictions)  # type: ignore[operator]
    assert proc.process([Incoming(tick(hour=9), "t/0/2")]).predictions[0].broker_latency_ms is None


class FakeKafkaConsumer:
    """`consume(n, timeout)` as librdkafka does it: the messages already fetched, up to n."""

    def __init__(self, fetched: list[str], arriving: list[str]) -> None:
        self.fetched = fetched
        self.arriving = arriving  # what arrives while someone waits
        self.calls: list[tuple[int, float]] = []

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        self.calls.append((num_messages, timeout))
        if not self.fetched and timeout > 0:
            self.fetched, self.arriving = self.arriving, []
        taken, self.fetched = self.fetched[:num_messages], self.fetched[num_messages:]
        return taken


def _consumer(fake: FakeKafkaConsumer, batch: int) -> StreamConsumer:
    consumer = StreamConsumer.__new__(StreamConsumer)
    consumer._consumer = fake  # type: ignore[assignment]
    consumer.batch_size = batch
    consumer.poll_timeout_s = 0.5
    return consumer


@pytest.mark.parametrize(("fetched", "arriving", "expected"), [(["a", "b", "c"], [], 2), ([], ["x", "y", "z"], 2)])
def test_next_batch_takes_what_is_there_without_waiting_for_a_full_batch(
    fetched: list[str], arriving: list[str], expected: int
) -> None:
    fake = FakeKafkaConsumer(fetched, arriving)
    batch = _consumer(fake, batch=2)._next_batch()
    assert len(batch) == expected
    assert fake.calls[0] == (2, 0)  # first: only what is already fetched, no wait


def test_a_quiet_stream_waits_for_one_message_not_a_batch() -> None:
    fake = FakeKafkaConsumer([], ["only one"])
    assert _consumer(fake, batch=500)._next_batch() == ["only one"]
    assert (1, 0.5) in fake.calls  # it waited for one message, then took the rest without waiting
    assert consumer_overrides(Settings())["fetch.wait.max.ms"] <= 10
