"""`KafkaPredictionFeed`: the `predictions` topic as a `PredictionFeed` for the API's SSE endpoint.

One background thread reads the topic with a group-less consumer (manual assignment, so no JoinGroup
delay and no committed offsets) starting at the end of the topic, and fans every message out to the
subscribers' asyncio queues. The last `replay_last` predictions are kept and given to each new
subscriber first, so a dashboard that connects shows something at once. Slow subscribers lose the
oldest events (bounded queues), never block the reader.

Outages: the feed tells its subscribers how its source is doing with status events
(`{"event": "status", "feed": "kafka", "state": "down" | "up" | "stale", "reason": ...}`): `down`
when the broker stops answering, `up` when it is back, `stale` when no prediction came for
`stale_after_s` (is the stream consumer running?). After an outage the reader starts over with a
fresh consumer and resumes where it stopped; when the broker lost the topic (a restarted in-memory
broker: its offsets start again below ours) it reads the new topic from its beginning, so the
predictions made since the restart are relayed, and old ones are never sent twice (message keys seen
recently are skipped).

tansu reports a high watermark below the real end of a partition, so starting "at the end" may first
relay some older predictions; events carry their own `timestamp`, so the dashboard can tell.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, KafkaException, TopicPartition

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.streaming.clients import ClientNoise, admin_config, consumer_config

log = logging.getLogger(__name__)

QUEUE_SIZE = 256
SEEN_KEYS = 4096  # message keys remembered to skip re-sent predictions
FRESH_S = 2.0  # a new consumer's first seconds: errors then are its own failed connects, not an outage
#: The key that marks a status event among the prediction events (the SSE route relays it as `event: status`).
STATUS = "status"


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
        stale_after_s: float = 60.0,
    ) -> None:
        self.settings = settings or get_settings()
        self.topic = topic or self.settings.kafka_topic_predictions
        self.from_beginning = from_beginning
        self.poll_timeout_s = poll_timeout_s
        self.stale_after_s = stale_after_s
        self._recent: deque[dict[str, Any]] = deque(maxlen=replay_last)
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ready = threading.Event()
        self.received = 0
        self.last_error: str | None = None
        self.outages = 0
        self.status: dict[str, Any] = {"event": STATUS, "feed": self.name, "state": "starting", "reason": ""}
        self._positions: dict[int, int] = {}  # partition -> next offset to read
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._last_message = time.monotonic()
        self._unreachable: str | None = None  # set by the client's error callback (reader thread)

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
            status = dict(self.status)
            self._subscribers.add(entry)
        try:
            if status["state"] in ("down", "stale"):
                yield status  # a client that connects during an outage hears about it first
            for event in backlog:
                if wanted is None or event.get("symbol") in wanted:
                    yield event
            while True:
                event = await queue.get()
                if event.get("event") == STATUS or wanted is None or event.get("symbol") in wanted:
                    yield event
        finally:
            with self._lock:
                self._subscribers.discard(entry)

    # -- status ---------------------------------------------------------------------------------
    def _set_state(self, state: str, reason: str = "") -> None:
        with self._lock:
            if self.status["state"] == state:
                return
            previous = self.status["state"]
            self.status = {
                "event": STATUS,
                "feed": self.name,
                "state": state,
                "reason": reason,
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            status = dict(self.status)
        if state == "down":
            self.outages += 1
        if previous != "starting" or state != "up":
            log.warning("prediction feed %s%s", state, f": {reason}" if reason else "")
            self._fan_out(status)

    def _on_kafka_state(self, up: bool, reason: str) -> None:
        if not up:
            self._unreachable = reason

    # -- reader thread --------------------------------------------------------------------------
    def _run(self) -> None:
        """Read until closed; after a broker outage start over with a fresh consumer."""
        delay = 0.5
        while not self._stop.is_set():
            noise = ClientNoise("prediction feed", on_change=self._on_kafka_state)
            conf = consumer_config(
                self.settings,
                group_id=f"crypto-mlops-feed-{uuid.uuid4().hex[:8]}",
                offset_reset="earliest" if self.from_beginning or self._positions else "latest",
                **noise.config(),
            )
            consumer = Consumer(conf)
            try:
                if self._read(consumer, noise):
                    delay = 0.5
            except Exception as exc:  # the API keeps serving; the feed says why and tries again
                self.last_error = f"{type(exc).__name__}: {exc}"
                self._set_state("down", self.last_error)
            finally:
                self.ready.set()
                consumer.close()
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)

    def _read(self, consumer: Consumer, noise: ClientNoise) -> bool:
        """Assign and relay until the broker goes away (returns True) or the feed closes."""
        partitions = self._wait_for_topic(consumer)
        if partitions is None:
            return False
        consumer.poll(0)  # nothing assigned yet: only serves the errors queued while the broker was away
        self._unreachable, noise.all_down = None, False
        starts = {p: self._start_offset(consumer, p) for p in partitions}
        if any(start == OFFSET_BEGINNING and p in self._positions for p, start in starts.items()):
            self._set_state("down", "broker restarted: the topic started over")  # said once, then "up"
        consumer.assign([TopicPartition(self.topic, p, start) for p, start in starts.items()])
        self.last_error = None
        self._last_message = time.monotonic()
        self._set_state("up")
        noise.ok()
        self.ready.set()
        assigned_at = time.monotonic()
        while not self._stop.is_set():
            msg = consumer.poll(self.poll_timeout_s)
            if self._unreachable is not None:
                if noise.all_down or not self._answers(consumer):
                    self._set_state("down", f"broker unreachable: {self._unreachable}")
                    return True
                if time.monotonic() - assigned_at > FRESH_S:
                    # Start over anyway: a broker that came back at once may have lost the topic, and
                    # the old consumer would wait at its old offsets for messages that never come.
                    return True
                self._unreachable = None  # a connect that failed before this consumer got through
            if msg is None:
                if self.received and time.monotonic() - self._last_message > self.stale_after_s:
                    self._set_state("stale", f"no prediction for {self.stale_after_s:g} s (is the consumer running?)")
                continue
            if msg.error() is not None:
                log.debug("prediction feed: %s", msg.error())
                continue
            self._last_message = time.monotonic()
            self._set_state("up")
            self._positions[msg.partition() or 0] = (msg.offset() or 0) + 1
            self._dispatch(msg.value(), msg.key())
        return False

    def _answers(self, consumer: Consumer) -> bool:
        """Is the broker there after all (a dropped idle connection is not an outage)?"""
        try:
            consumer.list_topics(self.topic, timeout=2.0)
        except KafkaException:
            return False
        return True

    def _start_offset(self, consumer: Consumer, partition: int) -> int:
        """Where to (re)start: the end at first; after an outage where we stopped, or the beginning
        when the broker's offsets now end below ours (it lost the topic: all it has is new)."""
        resume = self._positions.get(partition)
        if resume is None:
            return OFFSET_BEGINNING if self.from_beginning else OFFSET_END
        try:
            _, high = consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=5.0)
        except KafkaException:
            return OFFSET_BEGINNING
        return OFFSET_BEGINNING if high < resume else resume

    def _wait_for_topic(self, consumer: Consumer) -> list[int] | None:
        """The topic's partitions; waits (with backoff) while the broker or the topic is not there yet."""
        delay = 0.5
        while not self._stop.is_set():
            try:
                meta = consumer.list_topics(self.topic, timeout=5.0).topics.get(self.topic)
                if meta is not None and meta.error is None and meta.partitions:
                    return sorted(meta.partitions)
                self.last_error = f"topic {self.topic} not available yet"
                if self._positions:  # we were reading it: the broker came back without it (restarted)
                    self._set_state("down", f"topic {self.topic} gone (broker restarted?); waiting for it")
            except KafkaException as exc:
                self.last_error = f"broker unreachable: {exc}"
                self._set_state("down", self.last_error)
            log.debug("prediction feed waiting: %s", self.last_error)
            self._stop.wait(delay)
            delay = min(delay * 2, 5.0)
        return None

    def _dispatch(self, raw: bytes | None, key: bytes | None = None) -> None:
        if not raw:
            return
        if key is not None:  # the same prediction again (a re-read after an outage, a re-processed batch)
            if key in self._seen:
                return
            self._seen[key] = None
            if len(self._seen) > SEEN_KEYS:
                self._seen.popitem(last=False)
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
        self._fan_out(event)

    def _fan_out(self, event: dict[str, Any]) -> None:
        with self._lock:
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
        AdminClient(admin_config(settings, **ClientNoise("probe").config())).list_topics(timeout=timeout)
    except KafkaException:
        return False
    return True
