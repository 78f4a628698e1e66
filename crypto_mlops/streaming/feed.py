"""`KafkaPredictionFeed`: the `predictions` topic as a `PredictionFeed` for the API's SSE endpoint.

One background thread reads the topic with a group-less consumer (manual assignment, so no JoinGroup
delay and no committed offsets) starting at the end of the topic, and fans every message out to the
subscribers' asyncio queues. The last `replay_last` predictions are kept and given to each new
subscriber first, so a dashboard that connects shows something at once. Slow subscribers lose the
oldest events (bounded queues), never block the reader.

tansu reports a high watermark below the real end of a partition, so starting "at the end" may first
relay some older predictions; events carry their own `timestamp`, so the dashboard can tell.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

from confluent_kafka import OFFSET_END, Consumer, KafkaException, TopicPartition

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.streaming.clients import consumer_config

log = logging.getLogger(__name__)

QUEUE_SIZE = 256


class KafkaPredictionFeed:
    name = "kafka"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        topic: str | None = None,
        replay_last: int = 20,
        from_beginning: bool = False,
        poll_timeout_s: float = 0.5,
    ) -> None:
        self.settings = settings or get_settings()
        self.topic = topic or self.settings.kafka_topic_predictions
        self.from_beginning = from_beginning
        self.poll_timeout_s = poll_timeout_s
        self._recent: deque[dict[str, Any]] = deque(maxlen=replay_last)
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        self.received = 0
        self.last_error: str | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> KafkaPredictionFeed:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="kafka-prediction-feed", daemon=True)
                self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- PredictionFeed -------------------------------------------------------------------------
    async def subscribe(self, symbols: Sequence[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        self.start()
        wanted = set(symbols) if symbols else None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_SIZE)
        entry = (loop, queue)
        with self._lock:
            backlog = list(self._recent)
            self._subscribers.add(entry)
        try:
            for event in backlog:
                if wanted is None or event.get("symbol") in wanted:
                    yield event
            while True:
                event = await queue.get()
                if wanted is None or event.get("symbol") in wanted:
                    yield event
        finally:
            with self._lock:
                self._subscribers.discard(entry)

    # -- reader thread --------------------------------------------------------------------------
    def _run(self) -> None:
        conf = consumer_config(
            self.settings,
            group_id=f"crypto-mlops-feed-{uuid.uuid4().hex[:8]}",
            offset_reset="earliest" if self.from_beginning else "latest",
        )
        consumer = Consumer(conf)
        try:
            partitions = self._wait_for_topic(consumer)
            if partitions is None:
                return
            start = 0 if self.from_beginning else OFFSET_END
            consumer.assign([TopicPartition(self.topic, p, start) for p in partitions])
            self.last_error = None
            self.ready.set()
            while not self._stop.is_set():
                msg = consumer.poll(self.poll_timeout_s)
                if msg is None:
                    continue
                if msg.error() is not None:
                    log.warning("prediction feed: %s", msg.error())
                    continue
                self._dispatch(msg.value())
        except Exception as exc:  # the API keeps serving; the feed reports why it stopped
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("prediction feed stopped: %s", self.last_error)
            self.ready.set()
        finally:
            consumer.close()

    def _wait_for_topic(self, consumer: Consumer) -> list[int] | None:
        """The topic's partitions; waits (with backoff) while the broker or the topic is not there yet."""
        delay = 1.0
        while not self._stop.is_set():
            try:
                meta = consumer.list_topics(self.topic, timeout=5.0).topics.get(self.topic)
                if meta is not None and meta.error is None and meta.partitions:
                    return sorted(meta.partitions)
                self.last_error = f"topic {self.topic} not available yet"
            except KafkaException as exc:
                self.last_error = f"broker unreachable: {exc}"
            log.info("prediction feed waiting: %s", self.last_error)
            self._stop.wait(delay)
            delay = min(delay * 2, 30.0)
        return None

    def _dispatch(self, raw: bytes | None) -> None:
        if not raw:
            return
        try:
            event = json.loads(raw)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        event.setdefault("feed", "kafka")
        self.received += 1
        with self._lock:
            self._recent.append(event)
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(_offer, queue, event)
            except RuntimeError:  # that subscriber's loop is closed
                with self._lock:
                    self._subscribers.discard((loop, queue))


def _offer(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()  # drop the oldest rather than block the reader
    queue.put_nowait(event)


def kafka_reachable(settings: Settings | None = None, timeout: float = 2.0) -> bool:
    """True when the configured bootstrap servers answer a metadata request in `timeout`."""
    from confluent_kafka.admin import AdminClient

    settings = settings or get_settings()
    try:
        AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers}).list_topics(timeout=timeout)
    except KafkaException:
        return False
    return True
