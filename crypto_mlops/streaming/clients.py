"""Kafka client configurations shared by producer, consumer, feed and admin (confluent-kafka).

Every configuration carries a `ClientNoise`: librdkafka's error events and log lines (about 20 a second
while the broker is down) become one readable log line per state change ("broker unreachable",
"broker reachable again"), plus at most one "still unreachable" line a minute.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError

from crypto_mlops.config import Settings, get_settings

log = logging.getLogger("crypto_mlops.kafka")

# tansu (and Java clients) hash keys with murmur2; librdkafka's default CRC32 puts BTC, ETH, SOL and
# ADA all on one partition of three, so every producer here uses the Java-compatible partitioner.
PARTITIONER = "murmur2_random"
#: How long the producers keep unsent messages while the broker is away (librdkafka's own queue).
OUTAGE_BUFFER_MS = 300_000
#: Error codes that mean "the broker cannot be reached" (not a problem with one request).
_UNREACHABLE = {
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError._TRANSPORT,
    KafkaError._RESOLVE,
    KafkaError._MSG_TIMED_OUT,
    KafkaError._TIMED_OUT,
}


class _LibrdkafkaSink(logging.Logger):
    """Where librdkafka's own log lines go: kept at DEBUG (their content reaches us via error_cb)."""

    def __init__(self, client: str) -> None:
        super().__init__(f"crypto_mlops.kafka.librdkafka.{client}")  # level from its parents (DEBUG is off)
        self.parent = logging.getLogger("crypto_mlops.kafka.librdkafka")

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        super().log(logging.DEBUG, msg, *args, **kwargs)


class ClientNoise:
    """One log line per broker state change of one client; `on_change(up, reason)` hears the same."""

    def __init__(
        self,
        client: str,
        on_change: Callable[[bool, str], None] | None = None,
        repeat_s: float = 60.0,
        recover_after_s: float = 15.0,
    ) -> None:
        self.client = client
        self.on_change = on_change
        self.repeat_s = repeat_s
        #: Without an explicit ok(), this long without an error counts as recovered.
        self.recover_after_s = recover_after_s
        self.up = True
        self.errors = 0  # error events while down (not logged one by one)
        self.reason = ""
        self.code: int | None = None  # the last error's code
        self.all_down = False  # librdkafka said every broker is down (not just one dropped connection)
        self.logger = _LibrdkafkaSink(client)
        self._lock = threading.Lock()
        self._down_since = 0.0
        self._last_error = 0.0
        self._last_line = 0.0

    def on_error(self, err: KafkaError) -> None:
        """confluent-kafka's error_cb."""
        self.code = err.code()
        if self.code == KafkaError._ALL_BROKERS_DOWN:
            self.all_down = True  # the owner resets it once it has acted on it
        if err.code() in _UNREACHABLE or "refused" in err.str().lower():
            self.down(err.str())
        else:
            log.warning("kafka %s: %s", self.client, err.str())

    def down(self, reason: str) -> None:
        now = time.monotonic()
        with self._lock:
            stale = not self.up and now - self._last_error > self.recover_after_s
            self._last_error = now
            if self.up or stale:
                self.up, self.errors, self.reason = False, 0, reason
                self._down_since = self._last_line = now
                changed = True
            else:
                self.errors += 1
                changed = False
                if now - self._last_line < self.repeat_s:
                    return
                self._last_line = now
        if changed:
            log.warning("kafka %s: broker unreachable (%s); retrying quietly", self.client, _short(reason))
            if self.on_change is not None:
                self.on_change(False, reason)
        else:
            since = now - self._down_since
            log.warning("kafka %s: still unreachable after %.0f s (%d errors)", self.client, since, self.errors)

    def ok(self) -> None:
        """The owner saw the broker answer (a delivery, a message, a metadata reply)."""
        with self._lock:
            if self.up:
                return
            self.up = True
            outage, errors = time.monotonic() - self._down_since, self.errors
        log.warning("kafka %s: broker reachable again after %.1f s (%d errors hidden)", self.client, outage, errors)
        if self.on_change is not None:
            self.on_change(True, "")

    def config(self) -> dict[str, Any]:
        return {"error_cb": self.on_error, "logger": self.logger}


def _short(reason: str) -> str:
    return reason if len(reason) <= 160 else reason[:157] + "..."


def _base(settings: Settings, role: str) -> dict[str, Any]:
    """Each client gets its own quiet error handling; `**ClientNoise(...).config()` overrides replace it."""
    return {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "client.id": "crypto-mlops",
        # Small requests (one tick, one fetch) go out at once: with Nagle's algorithm on, a request could
        # wait for the ACK of the previous one (up to 40 ms of delayed ACK): p99 135 ms -> 14 ms paced.
        "socket.nagle.disable": True,
        **ClientNoise(role).config(),
    }


def producer_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    settings = settings or get_settings()
    conf = {
        **_base(settings, "producer"),
        "acks": "all",
        # No producer idempotence: duplicates are tolerated downstream (idempotent keys), and this keeps
        # the config valid on minimal Kafka-protocol brokers.
        "enable.idempotence": False,
        "partitioner": PARTITIONER,
        # One request in flight per broker: without idempotence, a batch retried after an outage could
        # otherwise land after a later one, and the consumer skips a tick older than its symbol's last.
        "max.in.flight.requests.per.connection": 1,
        "linger.ms": 5,
        # A broker outage shorter than this loses nothing: librdkafka keeps (bounded by
        # queue.buffering.max.messages) and retries every message until it is delivered.
        "message.timeout.ms": OUTAGE_BUFFER_MS,
        # Never create a topic by producing to it: tansu would make it with 4 partitions where ours have 3
        # (`topics.py`), and after a restart of a memory-storage broker a symbol's ticks would then land in
        # two partitions, later ones read first and earlier ones skipped as stale. Messages for a missing
        # topic wait (as long as the outage buffer) until `ensure_topics` creates it.
        "allow.auto.create.topics": False,
        "topic.metadata.propagation.max.ms": OUTAGE_BUFFER_MS,
        "retry.backoff.ms": 200,
        "retry.backoff.max.ms": 2000,
        "reconnect.backoff.max.ms": 2000,
    }
    conf.update(overrides)
    return conf


def consumer_config(
    settings: Settings | None = None,
    *,
    group_id: str | None = None,
    offset_reset: str = "earliest",
    **overrides: Any,
) -> dict[str, Any]:
    settings = settings or get_settings()
    session_ms = settings.kafka_session_timeout_ms
    conf = {
        **_base(settings, "consumer"),
        "group.id": group_id or settings.kafka_consumer_group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": offset_reset,
        # tansu answers JoinGroup after about session.timeout/2: keep it small (see INFRA notes).
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(250, min(1000, session_ms // 3)),
        "enable.partition.eof": False,
        "reconnect.backoff.max.ms": 2000,
    }
    conf.update(overrides)
    return conf


def admin_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    return {**_base(settings or get_settings(), "admin"), **overrides}
