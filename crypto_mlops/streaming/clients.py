"""Kafka client configurations shared by producer, consumer, feed and admin (confluent-kafka)."""

from __future__ import annotations

from typing import Any

from crypto_mlops.config import Settings, get_settings

# tansu (and Java clients) hash keys with murmur2; librdkafka's default CRC32 puts BTC, ETH, SOL and
# ADA all on one partition of three, so every producer here uses the Java-compatible partitioner.
PARTITIONER = "murmur2_random"


def _base(settings: Settings) -> dict[str, Any]:
    return {"bootstrap.servers": settings.kafka_bootstrap_servers, "client.id": "crypto-mlops"}


def producer_config(settings: Settings | None = None, **overrides: Any) -> dict[str, Any]:
    settings = settings or get_settings()
    conf = {
        **_base(settings),
        "acks": "all",
        # No producer idempotence: duplicates are tolerated downstream (idempotent keys), and this keeps
        # the config valid on minimal Kafka-protocol brokers.
        "enable.idempotence": False,
        "partitioner": PARTITIONER,
        "linger.ms": 5,
        "message.timeout.ms": 30000,
        "retries": 5,
        "retry.backoff.ms": 200,
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
        **_base(settings),
        "group.id": group_id or settings.kafka_consumer_group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": offset_reset,
        # tansu answers JoinGroup after about session.timeout/2: keep it small (see INFRA notes).
        "session.timeout.ms": session_ms,
        "heartbeat.interval.ms": max(250, min(1000, session_ms // 3)),
        "enable.partition.eof": False,
    }
    conf.update(overrides)
    return conf


def admin_config(settings: Settings | None = None) -> dict[str, Any]:
    return _base(settings or get_settings())
