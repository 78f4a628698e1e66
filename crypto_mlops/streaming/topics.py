"""Topic admin: list and create the streaming topics named in the settings."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import DataUnavailable
from crypto_mlops.streaming.clients import admin_config

# Prices are keyed by symbol over 3 partitions (murmur2 spreads BTC/ETH/SOL/ADA); outputs keep one
# partition each so a reader sees them in processing order.
DEFAULT_PARTITIONS = {"prices": 3, "predictions": 1, "alerts": 1, "dead_letter": 1}


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    role: str


def topic_names(settings: Settings | None = None) -> dict[str, str]:
    """Role -> topic name, from the settings."""
    s = settings or get_settings()
    return {
        "prices": s.kafka_topic_prices,
        "predictions": s.kafka_topic_predictions,
        "alerts": s.kafka_topic_alerts,
        "dead_letter": s.kafka_topic_dead_letter,
    }


def _admin(settings: Settings) -> AdminClient:
    return AdminClient(admin_config(settings))


def list_topics(settings: Settings | None = None, timeout: float = 10.0) -> dict[str, int]:
    """Every topic on the broker (internal ones excluded) -> partition count."""
    settings = settings or get_settings()
    try:
        meta = _admin(settings).list_topics(timeout=timeout)
    except KafkaException as exc:
        raise DataUnavailable(f"Kafka broker {settings.kafka_bootstrap_servers} unreachable: {exc}") from exc
    return {name: len(t.partitions) for name, t in meta.topics.items() if not name.startswith("__")}


def ensure_topics(
    settings: Settings | None = None, partitions: dict[str, int] | None = None, timeout: float = 15.0
) -> list[TopicInfo]:
    """Create the missing streaming topics; return all four with their partition counts."""
    settings = settings or get_settings()
    wanted = {**DEFAULT_PARTITIONS, **(partitions or {})}
    names = topic_names(settings)
    existing = list_topics(settings, timeout=timeout)
    missing = [
        NewTopic(name, num_partitions=wanted[role], replication_factor=1)
        for role, name in names.items()
        if name not in existing
    ]
    if missing:
        admin = _admin(settings)  # keep a reference: the futures die with the client
        futures = admin.create_topics(missing, operation_timeout=timeout, request_timeout=timeout)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
            except KafkaException as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):  # lost a race with another creator: fine
                    raise DataUnavailable(f"could not create topic {name}: {exc}") from exc
        existing = list_topics(settings, timeout=timeout)
    return [TopicInfo(name, existing.get(name, 0), role) for role, name in names.items()]
