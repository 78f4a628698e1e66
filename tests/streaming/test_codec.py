"""The msgspec codec: it reads what the producer writes, refuses what `PriceTick` refuses (with a reason),
its outputs validate as the declared pydantic messages, and a malformed message is dead-lettered, never lost."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from crypto_mlops.config import Settings
from crypto_mlops.streaming.codec import decode_tick, encode
from crypto_mlops.streaming.consumer import ConsumerReport, StreamConsumer, _Deliveries
from crypto_mlops.streaming.processor import Incoming, StreamProcessor
from crypto_mlops.streaming.schemas import AlertMessage, DeadLetter, PredictionMessage, PriceTick
from crypto_mlops.streaming.sources import simulate_ticks
from tests.streaming.helpers import tick


def test_it_reads_what_the_producer_writes() -> None:
    for t in [*list(simulate_ticks(["BTC/USDT", "ETH/USDT"], max_bars=40, seed=2))[:20], tick(hour=3)]:
        decoded, reason = decode_tick(t.to_bytes())
        assert reason is None and decoded is not None
        assert PriceTick.model_validate(msgspec.to_builtins(decoded)) == t
        assert decoded.event_key == t.event_key


def test_offsets_become_utc() -> None:
    data = json.loads(tick(hour=2).to_bytes()) | {"timestamp": "2024-01-01T05:00:00+02:00"}
    decoded, _ = decode_tick(json.dumps(data).encode())
    assert decoded is not None and decoded.event_key == "BTC/USDT@2024-01-01T03:00:00Z"


def _bad(**changes: Any) -> bytes:
    data = json.loads(tick(hour=2).to_bytes())
    for key, value in changes.items():
        if key.startswith("candle_"):
            data["candle"][key.removeprefix("candle_")] = value
        elif value is None:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"not json at all", "invalid tick"),
        (b"\xff\xfe\x00binary", "invalid tick"),
        (b"", "empty value"),
        (None, "empty value"),
        (b"[1, 2]", "invalid tick"),
        (_bad(price=-5), "price"),
        (_bad(price="cheap"), "price"),
        (_bad(schema_version=42), "schema_version"),
        (_bad(timestamp="2024-01-01T05:00:00"), "timezone"),
        (_bad(symbol=None), "symbol"),
        (_bad(trend="sideways"), "trend"),
        (_bad(candle_high=50.0), "high below low"),
        (_bad(volume_24h=-1), "volume_24h"),
    ],
)
def test_it_refuses_what_price_tick_refuses_with_a_reason(raw: bytes | None, reason: str) -> None:
    decoded, why = decode_tick(raw)
    assert decoded is None and why is not None and reason in why
    if raw:
        with pytest.raises(ValueError):
            PriceTick.model_validate_json(raw)


def test_outputs_validate_as_the_declared_messages() -> None:
    proc = StreamProcessor()
    ticks = list(simulate_ticks(["BTC/USDT"], max_bars=200, seed=5))
    out = proc.process([Incoming(t, "p/0/1", broker_ms=1) for t in ticks])
    assert out.predictions and out.alerts
    for p in out.predictions[-50:]:
        message = PredictionMessage.model_validate_json(encode(p))
        assert json.loads(message.model_dump_json()) == json.loads(encode(p))
        assert p.to_bytes() == encode(p)  # the method the pydantic messages have too
    for a in out.alerts:
        assert json.loads(AlertMessage.model_validate_json(encode(a)).model_dump_json()) == json.loads(encode(a))


class FakeMessage:
    def __init__(self, offset: int, value: bytes | None, key: bytes | None = b"BTC/USDT") -> None:
        self._offset, self._value, self._key = offset, value, key

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return "prices"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes | None:
        return self._value

    def key(self) -> bytes | None:
        return self._key

    def timestamp(self) -> tuple[int, int]:
        return (1, 1_700_000_000_000)


class FakeProducer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    def produce(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.sent.append((topic, value, key))

    def flush(self, _timeout: float) -> int:
        return 0

    def poll(self, _timeout: float) -> int:
        return 0


class FakeCommits:
    def __init__(self) -> None:
        self.offsets: list[Any] = []

    def commit(self, offsets: list[Any], asynchronous: bool) -> None:
        self.offsets.extend(offsets)


def test_malformed_messages_are_dead_lettered_with_the_reason_and_the_batch_committed() -> None:
    settings = Settings(KAFKA_TOPIC_DEAD_LETTER="dlq", KAFKA_TOPIC_PREDICTIONS="preds")  # type: ignore[call-arg]
    consumer = StreamConsumer.__new__(StreamConsumer)
    consumer.settings, consumer.processor, consumer.report = settings, StreamProcessor(), ConsumerReport()
    consumer._emit_from, consumer.before_commit = {}, None
    consumer._producer, consumer._deliveries, consumer._consumer = FakeProducer(), _Deliveries(), FakeCommits()  # type: ignore[assignment]
    good = [tick(hour=h).to_bytes() for h in range(3)]
    bad = [b"not json", _bad(price=-5), b"", _bad(schema_version=9)]
    msgs = [FakeMessage(i, v) for i, v in enumerate([good[0], bad[0], good[1], bad[1], bad[2], good[2], bad[3]])]
    consumer._handle_batch(msgs, 0.0)  # type: ignore[arg-type]
    sent = consumer._producer.sent  # type: ignore[attr-defined]
    dead = [DeadLetter.model_validate_json(v) for t, v, _ in sent if t == "dlq"]
    assert [d.original_offset for d in dead] == [1, 3, 4, 6]
    assert ["invalid tick" in d.reason for d in dead] == [True, True, False, True]
    assert dead[2].reason == "empty value" and "price" in dead[1].reason and "schema_version" in dead[3].reason
    assert sorted(json.loads(v)["event_key"] for t, v, _ in sent if t == "preds") == sorted(
        PriceTick.model_validate_json(g).event_key for g in good
    )
    assert (consumer.report.valid, consumer.report.dead_letters) == (3, 4)
    assert [(tp.partition, tp.offset) for tp in consumer._consumer.offsets] == [(0, 7)]  # type: ignore[attr-defined]
