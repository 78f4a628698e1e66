"""Price producer: send ticks to `crypto-prices`, keyed by symbol, with delivery reports checked.

`TickProducer` wraps a confluent-kafka producer (acks=all, murmur2_random partitioner). Every message
has a delivery callback; failures are counted and reported, and `close()` flushes what is in flight.

During a broker outage the ticks wait in librdkafka's bounded queue (`queue_max` messages, kept up
to clients.OUTAGE_BUFFER_MS) and go out, in order, once the broker is back: a short outage loses
nothing. When that queue is full for longer than `full_wait_s` (a long outage, not a burst) the new
tick is dropped and counted in `stats.dropped` instead of stalling the source. The client's error
noise is one log line per broker state change (clients.ClientNoise).
`run_producer` drives a tick source at a speed factor (event time / wall time) until the source ends,
`max_messages` is reached or SIGINT/SIGTERM arrives, then flushes and returns a report.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.streaming.clients import ClientNoise, producer_config
from crypto_mlops.streaming.lifecycle import StopOnSignals
from crypto_mlops.streaming.schemas import PriceTick

log = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    #: Ticks not even queued: the outage buffer stayed full (see TickProducer).
    dropped: int = 0
    errors: list[str] = field(default_factory=list)
    noise: ClientNoise | None = None

    def on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.failed += 1
            if len(self.errors) < 20:
                self.errors.append(f"{msg.topic()} key={msg.key()!r}: {err}")
            if self.failed <= 20 or self.failed % 1000 == 0:  # an expired outage buffer fails in bulk
                log.error("delivery failed (%d so far): %s", self.failed, err)
        else:
            self.delivered += 1
            if self.noise is not None:
                self.noise.ok()

    @property
    def in_flight(self) -> int:
        return self.sent - self.delivered - self.failed


class TickProducer:
    """Sends ticks; `produce` never blocks for long: a full local queue is drained by polling."""

    def __init__(
        self,
        settings: Settings | None = None,
        topic: str | None = None,
        *,
        queue_max: int = 100_000,
        full_wait_s: float = 5.0,
        **overrides: Any,
    ) -> None:
        self.settings = settings or get_settings()
        self.topic = topic or self.settings.kafka_topic_prices
        self.full_wait_s = full_wait_s
        self.noise = ClientNoise("producer")
        conf = producer_config(self.settings, **{"queue.buffering.max.messages": queue_max}, **self.noise.config())
        conf.update(overrides)
        self._producer = Producer(conf)
        self.stats = DeliveryStats(noise=self.noise)

    def send(self, tick: PriceTick, stamp: bool = True) -> bool:
        """Queue one tick; False when it had to be dropped (counted in `stats.dropped`)."""
        if stamp:
            tick = tick.model_copy(update={"produced_at": datetime.now(UTC)})
        return self.send_raw(tick.symbol.encode(), tick.to_bytes())

    def send_raw(self, key: bytes | None, value: bytes) -> bool:
        """Send bytes as they are (tests use it for malformed input); False when the tick was dropped."""
        deadline = time.monotonic() + self.full_wait_s
        while True:
            try:
                self._producer.produce(self.topic, key=key, value=value, on_delivery=self.stats.on_delivery)
                break
            except BufferError:  # local queue full: a burst drains in ms, an outage does not
                if time.monotonic() >= deadline:
                    self.stats.dropped += 1
                    if self.stats.dropped == 1 or self.stats.dropped % 1000 == 0:
                        log.error("outage buffer full: dropped %d tick(s) so far", self.stats.dropped)
                    return False
                self._producer.poll(0.1)
        self.stats.sent += 1
        self._producer.poll(0)
        return True

    def connect(self, timeout: float = 10.0) -> bool:
        """Fetch the topic's metadata, which opens the connection to the broker; False if it is unreachable.

        librdkafka connects lazily: without this the first tick waits for the connection and the metadata
        request, and a latency measured from its timestamp includes that wait."""
        try:
            self._producer.list_topics(self.topic, timeout=timeout)
        except KafkaException as exc:
            log.warning("broker not reachable yet: %s", exc)
            return False
        return True

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for every in-flight message; return how many are still undelivered."""
        return int(self._producer.flush(timeout))

    def close(self, timeout: float = 30.0) -> DeliveryStats:
        remaining = self.flush(timeout)
        if remaining:
            log.error("%d messages still undelivered after %.0f s", remaining, timeout)
        return self.stats


class Pacer:
    """Sleeps so that event time advances `speed` times faster than wall time (0 = no pacing).

    Ticks within `unpaced` of the first event time go out at once (a history burst, so that a consumer's
    windows fill and the model answers from the start); pacing starts after them.
    """

    def __init__(self, speed: float, stop: threading.Event, unpaced: timedelta = timedelta(0)) -> None:
        self.speed = speed
        self.stop = stop
        self.unpaced = unpaced
        self._first: datetime | None = None
        self._origin: tuple[float, datetime] | None = None

    def wait_for(self, event_time: datetime) -> None:
        if self.speed <= 0:
            return
        if self._first is None:
            self._first = event_time
        if event_time - self._first < self.unpaced:
            return
        if self._origin is None:
            self._origin = (time.monotonic(), event_time)
            return
        wall0, event0 = self._origin
        due = wall0 + (event_time - event0).total_seconds() / self.speed
        delay = due - time.monotonic()
        if delay > 0:
            self.stop.wait(delay)


@dataclass
class ProducerReport:
    mode: str
    sent: int
    delivered: int
    failed: int
    seconds: float
    stopped_by: str
    errors: list[str]
    dropped: int = 0

    @property
    def ok(self) -> bool:
        return self.failed == 0 and self.dropped == 0 and self.sent == self.delivered


def run_producer(
    ticks: Iterable[PriceTick],
    *,
    mode: str,
    settings: Settings | None = None,
    speed: float = 0.0,
    backfill: timedelta = timedelta(0),
    max_messages: int | None = None,
    stop: threading.Event | None = None,
    producer: TickProducer | None = None,
    on_sent: Callable[[PriceTick], None] | None = None,
) -> ProducerReport:
    """Send ticks until the source ends, `max_messages`, or a stop signal; always flush at the end."""
    stop = stop or threading.Event()
    sink = producer or TickProducer(settings)
    pacer = Pacer(speed, stop, backfill)
    started = time.monotonic()
    stopped_by = "end of source"
    with StopOnSignals(stop) as signals:
        try:
            for tick in ticks:
                if stop.is_set():
                    break
                pacer.wait_for(tick.timestamp)
                if stop.is_set():
                    break
                sink.send(tick)
                if on_sent is not None:
                    on_sent(tick)
                if max_messages is not None and sink.stats.sent >= max_messages:
                    stopped_by = "max messages"
                    break
        finally:
            if stop.is_set():
                stopped_by = signals.signal_name or "stop requested"
            stats = sink.close()
    return ProducerReport(
        mode=mode,
        sent=stats.sent,
        delivered=stats.delivered,
        failed=stats.failed,
        seconds=round(time.monotonic() - started, 3),
        stopped_by=stopped_by,
        errors=stats.errors,
        dropped=stats.dropped,
    )
