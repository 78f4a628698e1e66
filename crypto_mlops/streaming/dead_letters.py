"""A refused message as a dead letter: what came in (text, or base64 when binary), where from, and why."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Literal

from confluent_kafka import Message

from crypto_mlops.streaming.schemas import DeadLetter


def dead_letter_for(msg: Message, reason: str) -> DeadLetter:
    raw = msg.value()
    encoding: Literal["utf-8", "base64", "none"]
    if raw is None:
        text, encoding = None, "none"
    else:
        try:
            text, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(raw).decode("ascii"), "base64"
    key = msg.key()
    return DeadLetter(
        reason=reason[:2000],
        original_topic=msg.topic() or "",
        original_partition=int(msg.partition() or 0),
        original_offset=int(msg.offset() or 0),
        original_key=key.decode("utf-8", "replace") if key is not None else None,
        original_value=text,
        value_encoding=encoding,
        received_at=datetime.now(UTC),
    )
