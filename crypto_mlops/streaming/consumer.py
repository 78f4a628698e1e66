"""Stream consumer: `crypto-prices` -> heuristic + champion model -> `predictions` / `alerts`.

At-least-once, in this order for every batch:
1. `consume(num_messages=batch_size)` (many waiting messages are handled as one batch);
2. parse; malformed messages become dead letters (with the reason and their topic/partition/offset);
3. the processor answers every valid tick (in process, no HTTP);
4. predictions, alerts and dead letters are produced and flushed, and every delivery report is checked;
5. only then are the batch's offsets committed (synchronously).
A crash between 4 and 5 re-delivers the batch; its outputs are re-sent under the same keys
(symbol@event time), with the same values, so readers that keep the last value per key see no conflict.

On partition assignment the consumer rewinds up to `rewind` messages before the committed offset and
feeds them with `emit=False`, so windows and alert cooldowns are rebuilt without answering anything twice.
A later assignment in the same process (a rebalance, a restarted broker) first resets the processor:
reading resumes at the committed offset, and windows already past those ticks would skip them as stale.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import (
    OFFSET_INVALID,
    Consumer,
    KafkaError,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import DataUnavailable
from crypto_mlops.streaming.clients import consumer_config, producer_config
from crypto_mlops.streaming.codec import Tick, decode_tick, encode
from crypto_mlops.streaming.dead_letters import dead_letter_for
from crypto_mlops.streaming.incoming import Incoming
from crypto_mlops.streaming.lifecycle import StopOnSignals
from crypto_mlops.streaming.processor import BatchInterrupted, StreamProcessor
from crypto_mlops.streaming.report import ConsumerReport
from crypto_mlops.streaming.schemas import DeadLetter

log = logging.getLogger(__name__)

# A backlog is taken in batches of up to this many messages (one flush and one commit per batch); a
# quiet stream is not held back by it (`_next_batch` takes what has arrived). With a model, batches are
# larger: the model is called (a refitted baseline is fitted) once per symbol per batch, a fixed cost per
# batch that larger batches share among more ticks. Without one, smaller batches measured faster
# (docs/stream-performance.md).
DEFAULT_BATCH = 500
MODEL_BATCH = 2000
DELIVERY_ATTEMPTS = 3


# How long the broker may hold a fetch while waiting for data (librdkafka's default is 500 ms). The
# consumer keeps a fetch outstanding, so this bounds how late a tick of a slow live stream reaches it.
def consumer_overrides(settings: Settings) -> dict[str, Any]:
    """librdkafka settings of the stream consumer beyond the shared client configuration."""
    return {"fetch.wait.max.ms": settings.kafka_fetch_wait_max_ms}


DeliveryCallback = Callable[[KafkaError | None, Message], None]


def output_producer_config(settings: Settings, on_failure: DeliveryCallback) -> dict[str, Any]:
    """The output producer: every batch ends with `flush()`, which sends at once whatever `linger.ms` says,
    so lingering only batches what a flush would send anyway; delivery reports for failures only (one
    Python callback per failed message, none per delivered one)."""
    return producer_config(
        settings,
        **{"linger.ms": 5, "delivery.report.only.error": True, "on_delivery": on_failure},
    )


NO_TIMESTAMP = 0  # confluent_kafka.TIMESTAMP_NOT_AVAILABLE


class DeliveryFailed(DataUnavailable):
    """Outputs could not be delivered: the batch is not committed (it will be processed again)."""


class SimulatedCrash(RuntimeError):
    """Raised by test hooks to stop the consumer between delivery and commit."""


def parse_tick(msg: Message) -> tuple[Tick | None, str | None]:
    """(tick, None) or (None, reason)."""
    return decode_tick(msg.value())


class _Deliveries:
    """Failed deliveries of the output producer. It reports failures only (`delivery.report.only.error`):
    once `flush()` says nothing is in flight, every message not reported here was delivered."""

    def __init__(self) -> None:
        self.failed: list[tuple[str, bytes | None, bytes]] = []

    def callback(self, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            log.error("output delivery failed (%s): %s", msg.topic(), err)
            self.failed.append((msg.topic() or "", msg.key(), msg.value() or b""))


class StreamConsumer:
    def __init__(
        self,
        processor: StreamProcessor,
        settings: Settings | None = None,
        *,
        group_id: str | None = None,
        batch_size: int | None = None,
        poll_timeout_s: float = 0.5,
        rewind: int | None = None,
        offset_reset: str = "earliest",
        before_commit: Callable[[int], None] | None = None,
        reload_model: Callable[[], Any] | None = None,
        reload_every_s: float = 600.0,
    ) -> None:
        self.settings = settings or get_settings()
        self.processor = processor
        if batch_size is None:  # see DEFAULT_BATCH
            batch_size = MODEL_BATCH if processor.has_model else DEFAULT_BATCH
        self.batch_size = batch_size
        self.poll_timeout_s = poll_timeout_s
        # Enough messages to refill every symbol's window when a partition carries several symbols.
        self.rewind = processor.window_size * 4 if rewind is None else rewind
        self.topic = self.settings.kafka_topic_prices
        self.before_commit = before_commit
        self.reload_model = reload_model
        self.reload_every_s = reload_every_s
        self._consumer = Consumer(
            consumer_config(
                self.settings, group_id=group_id, offset_reset=offset_reset, **consumer_overrides(self.settings)
            )
        )
        self._deliveries = _Deliveries()
        self._producer = Producer(output_producer_config(self.settings, self._deliveries.callback))
        self._emit_from: dict[tuple[str, int], int] = {}
        self.assigned = threading.Event()
        self._assigned_at: float | None = None
        self.report = ConsumerReport()

    # -- rebalance callbacks --------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        if self.report.batches:  # assigned again (a rebalance, a broker restart): reading resumes from the
            self.processor.reset()  # committed offsets, so the windows are rebuilt from there (see reset)
        committed = consumer.committed(partitions, timeout=10.0)
        for tp, done in zip(partitions, committed, strict=True):
            key = (tp.topic, tp.partition)
            if done.offset is None or done.offset < 0 or done.offset == OFFSET_INVALID:
                self._emit_from[key] = 0  # no commit yet: auto.offset.reset decides where to start
                continue
            self._emit_from[key] = done.offset
            tp.offset = max(0, done.offset - self.rewind)
        log.info("assigned %s", [(p.partition, p.offset, self._emit_from[(p.topic, p.partition)]) for p in partitions])
        consumer.assign(partitions)
        self._assigned_at = time.monotonic()
        self.assigned.set()

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self._emit_from.pop((tp.topic, tp.partition), None)

    # -- main loop ------------------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event | None = None,
        max_messages: int | None = None,
        idle_exit_s: float | None = None,
        handle_signals: bool = True,
    ) -> ConsumerReport:
        """Process until `stop`, SIGINT/SIGTERM, `max_messages` answered, or `idle_exit_s` of silence."""
        stop = stop or threading.Event()
        started = time.monotonic()
        last_message = started
        last_reload = started
        self._consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        signals = StopOnSignals(stop) if handle_signals else None
        try:
            if signals:
                signals.__enter__()
            while not stop.is_set():
                if self.reload_model and time.monotonic() - last_reload > self.reload_every_s:
                    last_reload = time.monotonic()
                    self._reload()
                msgs = self._next_batch()
                if not msgs:
                    # Idle time counts from the group join (tansu answers JoinGroup after a delay).
                    idle_since = max(last_message, self._assigned_at or time.monotonic())
                    if idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                        self.report.stopped_by = "idle"
                        break
                    continue
                last_message = time.monotonic()
                try:
                    self._handle_batch(msgs, time.perf_counter(), stop.is_set)
                except BatchInterrupted:
                    # Nothing of this batch was produced or committed: the next consumer answers it.
                    self.report.abandoned_batches += 1
                    break
                if max_messages is not None and self.report.valid + self.report.dead_letters >= max_messages:
                    self.report.stopped_by = "max messages"
                    break
            if stop.is_set():
                self.report.stopped_by = (signals.signal_name if signals else None) or "stop requested"
                if self.report.abandoned_batches:
                    self.report.stopped_by += " (in-flight batch left uncommitted)"
        finally:
            if signals:
                signals.__exit__()
            self.report.seconds = round(time.monotonic() - started, 3)
        return self.report

    def _next_batch(self) -> list[Message]:
        """What is already fetched, up to a batch; else wait for one message and take what came with it.

        `consume(n, timeout)` waits until it has n messages or the timeout passes, so a slow live stream
        would wait the whole timeout for a full batch. Here a busy stream still gets full batches (they
        pile up while the previous one is processed) and a quiet one is answered at once.
        """
        msgs = self._consumer.consume(num_messages=self.batch_size, timeout=0)
        if msgs:
            return list(msgs)
        first = self._consumer.consume(num_messages=1, timeout=self.poll_timeout_s)
        if not first or self.batch_size <= 1:
            return list(first)
        return list(first) + list(self._consumer.consume(num_messages=self.batch_size - 1, timeout=0))

    def close(self) -> None:
        """Leave the group (nothing uncommitted is committed) and flush the output producer.

        tansu quirk: a member that leaves while its JoinGroup is still pending stays in the group as a
        dead leader and wedges it for every later member, so wait for the assignment before leaving.
        """
        if self._consumer is None:  # already closed
            return
        deadline = time.monotonic() + self.settings.kafka_session_timeout_ms / 1000 + 2
        while not self.assigned.is_set() and time.monotonic() < deadline:
            self._consumer.poll(0.2)  # anything fetched here is not committed, so it is re-read later
        try:
            self._consumer.close()
        finally:
            self._producer.flush(10.0)
            # The consumer's callbacks reference self; drop the clients so they go away now, not at GC.
            self._consumer = self._producer = None  # type: ignore[assignment]

    def _reload(self) -> None:
        try:
            assert self.reload_model is not None
            self.reload_model()
        except Exception as exc:  # keep serving the current model
            log.warning("model reload failed: %s", exc)

    def _handle_batch(
        self, msgs: list[Message], received: float, should_stop: Callable[[], bool] | None = None
    ) -> None:
        self.report.batches += 1
        if self.report.first_message_at is None:
            self.report.first_message_at = time.monotonic()
        items: list[Incoming] = []
        dead: list[DeadLetter] = []
        last_offsets: dict[tuple[str, int], int] = {}
        emit_from = self._emit_from
        consumed = 0
        for msg in msgs:
            err = msg.error()
            if err is not None:
                if err.fatal():
                    raise KafkaException(err)
                log.warning("consume error: %s", err)
                continue
            consumed += 1
            tp = (msg.topic() or "", msg.partition() or 0)
            offset = msg.offset() or 0
            if offset > last_offsets.get(tp, -1):
                last_offsets[tp] = offset
            emit = offset >= emit_from.get(tp, 0)
            tick, reason = decode_tick(msg.value())
            if tick is None:
                if emit:  # a rewound bad message was dead-lettered by whoever committed past it
                    dead.append(dead_letter_for(msg, reason or "invalid"))
                continue
            stamp_type, stamp_ms = msg.timestamp()
            broker_ms = stamp_ms if stamp_type != NO_TIMESTAMP and stamp_ms > 0 else None
            items.append(Incoming(tick, f"{tp[0]}/{tp[1]}/{offset}", received, emit, broker_ms))
        self.report.consumed += consumed
        outputs = self.processor.process(items, should_stop)
        valid = sum(1 for i in items if i.emit)
        self.report.valid += valid
        self.report.warmup += len(items) - valid
        self.report.stale += sum(1 for i in outputs.stale if i.emit)
        for s in outputs.stale:
            if s.emit:
                log.info("skipped stale tick %s (%s): not after its symbol's last", s.tick.event_key, s.ref)
        records: list[tuple[str, bytes | None, bytes]] = []
        topic = self.settings.kafka_topic_predictions
        latencies, broker_latencies = self.report.latencies_ms, self.report.broker_latencies_ms
        for p in outputs.predictions:
            records.append((topic, p.event_key.encode(), encode(p)))
            latencies.append(p.processing_latency_ms)
            if p.broker_latency_ms is not None:
                broker_latencies.append(p.broker_latency_ms)
        for a in outputs.alerts:
            records.append((self.settings.kafka_topic_alerts, a.alert_id.encode(), encode(a)))
        for d in dead:
            key = d.original_key.encode() if d.original_key is not None else None
            records.append((self.settings.kafka_topic_dead_letter, key, d.to_bytes()))
        self._deliver(records)
        self.report.emitted_predictions += len(outputs.predictions)
        self.report.emitted_alerts += len(outputs.alerts)
        self.report.dead_letters += len(dead)
        for kept in (latencies, broker_latencies):
            if len(kept) > 200_000:
                del kept[:100_000]
        if self.before_commit is not None:
            self.before_commit(self.report.valid + self.report.dead_letters)
        self._commit(last_offsets)

    def _deliver(self, records: list[tuple[str, bytes | None, bytes]]) -> None:
        """Produce every record, flush, and resend the failed ones (DeliveryFailed after the last try)."""
        pending = records
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            if not pending:
                return
            self._deliveries.failed = []
            produce = self._producer.produce
            for topic, key, value in pending:
                try:
                    produce(topic, value, key)
                except BufferError:  # the local queue is full: let it drain, then send this one
                    while True:
                        self._producer.poll(0.1)
                        try:
                            produce(topic, value, key)
                            break
                        except BufferError:
                            continue
            remaining = self._producer.flush(30.0)
            failed = self._deliveries.failed
            if remaining == 0 and not failed:
                return
            log.warning("delivery attempt %d: %d failed, %d unconfirmed", attempt, len(failed), remaining)
            if remaining:
                raise DeliveryFailed(f"{remaining} outputs unconfirmed after 30 s; batch not committed")
            pending = failed
        raise DeliveryFailed(f"{len(pending)} outputs undeliverable after {DELIVERY_ATTEMPTS} attempts")

    def _commit(self, last_offsets: dict[tuple[str, int], int]) -> None:
        if not last_offsets:
            return
        offsets = [TopicPartition(t, p, o + 1) for (t, p), o in last_offsets.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
            self.report.commits += 1
            self.report.last_commit_at = time.monotonic()
        except KafkaException as exc:  # e.g. a rebalance took the partition: it will be re-read
            self.report.commit_failures += 1
            log.warning("offset commit failed (batch will be re-delivered): %s", exc)
