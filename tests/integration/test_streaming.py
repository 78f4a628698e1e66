"""Streaming against a REAL tansu broker: producer -> consumer -> predictions/alerts/dead letters, crash
recovery (in-process crash before commit, and a SIGKILLed `crypto-mlops stream consume`), and the
Kafka feed behind `GET /v1/stream/predictions` read by an HTTP client.

Each test uses its own topics and consumer group. tansu answers JoinGroup after about half the session
timeout, so every consumer start costs ~3 s; tests keep the number of joins small.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition

from crypto_mlops.config import Settings
from crypto_mlops.streaming.clients import consumer_config
from crypto_mlops.streaming.consumer import SimulatedCrash, StreamConsumer
from crypto_mlops.streaming.processor import StreamProcessor
from crypto_mlops.streaming.producer import TickProducer
from crypto_mlops.streaming.schemas import DeadLetter, PredictionMessage
from crypto_mlops.streaming.sources import simulate_ticks
from crypto_mlops.streaming.topics import ensure_topics
from tests.streaming.helpers import tick

pytestmark = pytest.mark.integration


def stream_settings(bootstrap: str, name: str) -> Settings:
    uid = f"{name}-{uuid.uuid4().hex[:6]}"
    return Settings(  # type: ignore[call-arg]
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        KAFKA_TOPIC_PRICES=f"prices-{uid}",
        KAFKA_TOPIC_PREDICTIONS=f"predictions-{uid}",
        KAFKA_TOPIC_ALERTS=f"alerts-{uid}",
        KAFKA_TOPIC_DEAD_LETTER=f"dlq-{uid}",
        KAFKA_CONSUMER_GROUP=f"group-{uid}",
    )


def read_topic(
    settings: Settings, topic: str, expect: int, timeout: float = 20.0, settle: float = 1.0
) -> list[tuple[str | None, dict[str, Any], int]]:
    """Every message of `topic` from offset 0 (manual assignment: no group join), as (key, value, offset).

    Reads until `expect` messages arrived and then `settle` more seconds (to catch extras), or `timeout`.
    """
    consumer = Consumer(consumer_config(settings, group_id=f"reader-{uuid.uuid4().hex[:6]}"))
    meta = consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, 0) for p in meta.topics[topic].partitions])
    out: list[tuple[str | None, dict[str, Any], int]] = []
    deadline = time.monotonic() + timeout
    settled_at: float | None = None
    try:
        while time.monotonic() < deadline:
            if settled_at is None and len(out) >= expect:
                settled_at = time.monotonic() + settle
            if settled_at is not None and time.monotonic() > settled_at:
                break
            msg = consumer.poll(0.2)
            if msg is None or msg.error() is not None:
                continue
            key = msg.key().decode() if msg.key() is not None else None
            out.append((key, json.loads(msg.value()), int(msg.offset())))
    finally:
        consumer.close()
    return out


def produce_ticks(settings: Settings, ticks: list) -> None:
    producer = TickProducer(settings)
    for t in ticks:
        producer.send(t)
    stats = producer.close()
    assert stats.delivered == len(ticks) and stats.failed == 0


def committed_total(settings: Settings) -> int:
    consumer = Consumer(consumer_config(settings))
    try:
        meta = consumer.list_topics(settings.kafka_topic_prices, timeout=10)
        topic = settings.kafka_topic_prices
        parts = [TopicPartition(topic, p) for p in meta.topics[topic].partitions]
        return sum(max(0, tp.offset) for tp in consumer.committed(parts, timeout=10))
    finally:
        consumer.close()


@pytest.fixture
def settings(kafka_broker: Any, request: pytest.FixtureRequest) -> Iterator[Settings]:
    s = stream_settings(kafka_broker.bootstrap, request.node.name[5:25].replace("_", "-"))
    ensure_topics(s)
    yield s


def test_n_ticks_give_n_predictions_with_matching_keys_and_the_model_in_process(settings: Settings) -> None:
    from crypto_mlops.models.inference import baseline_predictor

    btc = list(simulate_ticks(["BTC/USDT"], max_bars=250, seed=1))
    eth = list(simulate_ticks(["ETH/USDT"], max_bars=50, seed=2))
    ticks = sorted(btc + eth, key=lambda t: t.timestamp)
    produce_ticks(settings, ticks)

    model = baseline_predictor("har")
    consumer = StreamConsumer(StreamProcessor(lambda: model), settings, batch_size=100)
    try:
        report = consumer.run(max_messages=len(ticks), idle_exit_s=20, handle_signals=False)
    finally:
        consumer.close()
    assert report.valid == len(ticks) and report.dead_letters == 0

    preds = read_topic(settings, settings.kafka_topic_predictions, expect=len(ticks))
    assert len(preds) == len(ticks)
    assert sorted(k for k, _, _ in preds) == sorted(t.event_key for t in ticks)
    messages = [PredictionMessage.model_validate(v) for _, v, _ in preds]
    assert all(m.event_key == k for m, (k, _, _) in zip(messages, preds, strict=True))
    assert all(m.processing_latency_ms > 0 for m in messages)
    # The model ran in the consumer once BTC had 240 candles; ETH never got there.
    with_model = [m for m in messages if m.ml_prediction and "error" not in m.ml_prediction]
    assert {m.symbol for m in with_model} == {"BTC/USDT"} and len(with_model) == 250 - 239
    assert all(m.ml_prediction["predicted_volatility"] > 0 and m.ml_prediction["model_type"] for m in with_model)
    # Offsets were committed for every tick.
    assert committed_total(settings) == len(ticks)


def test_a_crash_before_commit_loses_nothing_and_duplicates_only_the_uncommitted_batch(settings: Settings) -> None:
    ticks = sorted(simulate_ticks(["BTC/USDT", "ETH/USDT", "SOL/USDT"], max_bars=60, seed=3), key=lambda t: t.timestamp)
    produce_ticks(settings, ticks)

    def crash(answered: int) -> None:
        if answered >= 70:
            raise SimulatedCrash("power cut between delivery and commit")

    first = StreamConsumer(StreamProcessor(), settings, batch_size=25, before_commit=crash)
    with pytest.raises(SimulatedCrash):
        first.run(handle_signals=False)
    first.close()
    committed = committed_total(settings)
    crashed_batch = first.report.valid - committed
    assert 0 < crashed_batch <= 25 * 3  # at most one batch per partition

    second = StreamConsumer(StreamProcessor(), settings, batch_size=25)
    try:
        second.run(idle_exit_s=2, handle_signals=False)
    finally:
        second.close()
    assert second.report.valid == len(ticks) - committed

    preds = read_topic(settings, settings.kafka_topic_predictions, expect=len(ticks) + crashed_batch)
    counts = Counter(k for k, _, _ in preds)
    assert set(counts) == {t.event_key for t in ticks}  # nothing lost
    duplicated = {k for k, n in counts.items() if n > 1}
    assert len(duplicated) == crashed_batch and max(counts.values()) == 2  # only the uncommitted batch
    # The duplicates do not conflict: same signal, same anomalies, same window (rebuilt by the rewind).
    by_key: dict[str, list[dict[str, Any]]] = {}
    for k, v, _ in preds:
        by_key.setdefault(k, []).append(v)
    for key in duplicated:
        a, b = by_key[key]
        for field in ("heuristic_signal", "anomalies", "window_size", "price_data"):
            assert a[field] == b[field], (key, field)
    assert committed_total(settings) == len(ticks)


def test_sigkilled_consumer_process_is_replaced_without_loss(settings: Settings, tmp_path: Path) -> None:
    ticks = sorted(simulate_ticks(["BTC/USDT", "ETH/USDT"], max_bars=150, seed=4), key=lambda t: t.timestamp)
    produce_ticks(settings, ticks)
    env = {
        **os.environ,
        **{
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "KAFKA_TOPIC_PRICES": settings.kafka_topic_prices,
            "KAFKA_TOPIC_PREDICTIONS": settings.kafka_topic_predictions,
            "KAFKA_TOPIC_ALERTS": settings.kafka_topic_alerts,
            "KAFKA_TOPIC_DEAD_LETTER": settings.kafka_topic_dead_letter,
            "KAFKA_CONSUMER_GROUP": settings.kafka_consumer_group,
        },
    }
    log = (tmp_path / "consume.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "crypto_mlops.cli.main", "stream", "consume", "--no-model", "--batch-size", "10"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        seen = 0
        while time.monotonic() < deadline and seen < 40:
            seen = len(read_topic(settings, settings.kafka_topic_predictions, expect=40, timeout=1.0, settle=0))
        assert seen >= 40, (tmp_path / "consume.log").read_text()[-2000:]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL

    replacement = StreamConsumer(StreamProcessor(), settings, batch_size=50)
    try:
        replacement.run(idle_exit_s=2, handle_signals=False)
    finally:
        replacement.close()
    preds = read_topic(settings, settings.kafka_topic_predictions, expect=len(ticks))
    counts = Counter(k for k, _, _ in preds)
    assert set(counts) == {t.event_key for t in ticks}  # every input has an output
    assert len(preds) - len(ticks) <= 10 * 2  # duplicates: at most the killed, uncommitted batches
    assert committed_total(settings) == len(ticks)


def test_malformed_messages_go_to_the_dead_letter_topic_with_the_reason(settings: Settings) -> None:
    # The consumer starts first and sits idle for a while: it must keep running, then handle bad input.
    consumer = StreamConsumer(StreamProcessor(), settings)
    stop = threading.Event()
    runner = threading.Thread(target=lambda: consumer.run(stop=stop, handle_signals=False), daemon=True)
    runner.start()
    assert consumer.assigned.wait(30)
    time.sleep(2.0)
    assert runner.is_alive()  # idle is not a reason to exit

    producer = TickProducer(settings)
    good = [tick(hour=0), tick(hour=1)]
    bad_tick = json.loads(tick(hour=2).to_bytes())
    bad_tick["price"] = -5
    future = json.loads(tick(hour=3).to_bytes()) | {"schema_version": 42}
    producer.send(good[0])
    bad: list[tuple[bytes | None, bytes, str]] = [
        (b"BTC/USDT", b"not json at all", "invalid tick"),
        (b"BTC/USDT", json.dumps(bad_tick).encode(), "price"),
        (b"BTC/USDT", json.dumps(future).encode(), "schema_version"),
        (None, b"\xff\xfe\x00binary", "invalid tick"),
        (b"BTC/USDT", b"", "empty value"),
    ]
    for key, value, _ in bad:
        producer.send_raw(key, value)
    producer.send(good[1])
    producer.close()

    report = consumer.report
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and report.valid + report.dead_letters < len(good) + len(bad):
        time.sleep(0.1)
    stop.set()  # clean shutdown on request
    runner.join(timeout=10)
    consumer.close()
    assert not runner.is_alive() and report.stopped_by == "stop requested"
    assert (report.valid, report.dead_letters) == (2, len(bad))  # kept going after bad input

    dead = [
        DeadLetter.model_validate(v)
        for _, v, _ in read_topic(settings, settings.kafka_topic_dead_letter, expect=len(bad))
    ]
    assert len(dead) == len(bad)
    by_value = {
        base64.b64decode(d.original_value) if d.value_encoding == "base64" else (d.original_value or "").encode(): d
        for d in dead
    }
    for key, value, reason in bad:
        d = by_value[value]  # null keys land on any partition, so match by content, not offset
        assert reason in d.reason
        assert d.original_topic == settings.kafka_topic_prices and d.original_offset >= 0
        assert d.original_key == (key.decode() if key else None)
    assert by_value[b"\xff\xfe\x00binary"].value_encoding == "base64"
    assert by_value[b""].value_encoding in ("utf-8", "none") and by_value[b""].reason == "empty value"
    preds = read_topic(settings, settings.kafka_topic_predictions, expect=2)
    assert sorted(k for k, _, _ in preds) == sorted(t.event_key for t in good)


def test_alert_cooldown_holds_on_the_alerts_topic(settings: Settings) -> None:
    ticks = [tick(hour=h, price=100 + h, change_24h=9.0) for h in range(30)]
    produce_ticks(settings, ticks)
    consumer = StreamConsumer(StreamProcessor(), settings)
    try:
        consumer.run(max_messages=len(ticks), idle_exit_s=20, handle_signals=False)
    finally:
        consumer.close()
    alerts = read_topic(settings, settings.kafka_topic_alerts, expect=8)
    price = sorted(v["timestamp"] for _, v, _ in alerts if v["rule"] == "price_move_24h")
    assert len(price) == 8  # 30 hours of a 9 % move, 4 h cooldown: hours 1, 5, ..., 29
    hours = [int(ts[11:13]) + 24 * (int(ts[8:10]) - 1) for ts in price]
    assert all(b - a >= 4 for a, b in itertools.pairwise(hours))
    assert all(k == v["alert_id"] for k, v, _ in alerts)


def test_sse_endpoint_relays_the_predictions_topic(settings: Settings, sandbox_dir: Path) -> None:
    import httpx
    import uvicorn

    from crypto_mlops.api.app import create_app
    from crypto_mlops.service import CryptoService
    from crypto_mlops.stack.ports import free_port
    from crypto_mlops.streaming.feed import KafkaPredictionFeed

    feed = KafkaPredictionFeed(settings)
    service = CryptoService(settings)
    service.set_prediction_feed(feed)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(service, start_service=False), host="127.0.0.1", port=port, log_level="warning")
    )
    server_thread = threading.Thread(target=server.run, daemon=True)
    server_thread.start()

    # A live producer: the processor answers a tick every 0.2 s until the client has its events.
    stop = threading.Event()

    def live() -> None:
        from confluent_kafka import Producer

        from crypto_mlops.streaming.clients import producer_config
        from crypto_mlops.streaming.processor import Incoming

        processor = StreamProcessor()
        producer = Producer(producer_config(settings))
        hour = 0
        while not stop.is_set():
            batch = [Incoming(tick(symbol=s, hour=hour), "t/0/0") for s in ("BTC/USDT", "ETH/USDT")]
            for p in processor.process(batch).predictions:
                producer.produce(settings.kafka_topic_predictions, key=p.event_key.encode(), value=p.to_bytes())
            producer.flush(5)
            hour += 1
            stop.wait(0.2)

    writer = threading.Thread(target=live, daemon=True)
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        writer.start()
        events: list[dict[str, Any]] = []
        with (
            httpx.Client(timeout=30) as client,
            client.stream(
                "GET", f"http://127.0.0.1:{port}/v1/stream/predictions", params={"symbols": "BTCUSDT", "max_events": 3}
            ) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("data:") and '"event_key"' in line:
                    events.append(json.loads(line[5:]))
    finally:
        stop.set()
        server.should_exit = True
        server_thread.join(timeout=10)
        feed.close()
        service.close()
    assert len(events) == 3
    assert all(e["symbol"] == "BTC/USDT" and e["feed"] == "kafka" for e in events)
    assert all(PredictionMessage.model_validate({k: v for k, v in e.items() if k != "feed"}) for e in events)


def test_cli_topics_and_replay_produce(settings: Settings, monkeypatch: pytest.MonkeyPatch, btc_csv: Path) -> None:
    from typer.testing import CliRunner

    from crypto_mlops.cli.main import app

    for name, value in {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PRICES": settings.kafka_topic_prices,
        "KAFKA_TOPIC_PREDICTIONS": settings.kafka_topic_predictions,
        "KAFKA_TOPIC_ALERTS": settings.kafka_topic_alerts,
        "KAFKA_TOPIC_DEAD_LETTER": settings.kafka_topic_dead_letter,
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    listed = runner.invoke(app, ["stream", "topics", "--create", "--json"])
    assert listed.exit_code == 0, listed.output
    roles = {t["role"]: t for t in json.loads(listed.stdout)["topics"] if t["role"]}
    assert set(roles) == {"prices", "predictions", "alerts", "dead_letter"}
    assert roles["prices"]["partitions"] == 3 and not any(t.get("missing") for t in roles.values())

    produced = runner.invoke(
        app,
        [
            "stream",
            "produce",
            "--mode",
            "replay",
            "--data",
            str(btc_csv),
            "--start",
            "2021-06-01",
            "--max-messages",
            "30",
            "--speed",
            "0",
        ],
    )
    assert produced.exit_code == 0, produced.output
    assert "sent 30, delivered 30, failed 0" in produced.stdout
    ticks = read_topic(settings, settings.kafka_topic_prices, expect=30)
    assert len(ticks) == 30 and {k for k, _, _ in ticks} == {"BTC/USDT"}
    assert all(v["source"] == "csv" and v["candle"] for _, v, _ in ticks)

    missing = runner.invoke(app, ["stream", "produce", "--mode", "replay"])
    assert missing.exit_code == 2 and "needs --data" in missing.output
