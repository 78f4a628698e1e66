"""`crypto-mlops stream produce|consume|topics`: the Kafka side of the system."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from crypto_mlops.cli.common import console, counting_progress, err_console, friendly_errors, quiet_libraries
from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import DataUnavailable, InvalidInput

app = typer.Typer(
    help="Kafka streaming: produce price ticks, consume and predict, manage topics.", no_args_is_help=True
)
log = logging.getLogger("crypto_mlops.stream")


class Mode(StrEnum):
    live = "live"
    simulate = "simulate"
    replay = "replay"


def register(root: typer.Typer) -> None:
    """Attach this module's commands to the root app (called by cli.main)."""
    root.add_typer(app, name="stream")


def _logging() -> None:
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=get_settings().log_level.upper(), format=fmt)
    quiet_libraries()


def _prepared_settings(create_topics: bool) -> Settings:
    """Logging set up, the settings, and the streaming topics created when asked (producer and consumer)."""
    from crypto_mlops.streaming.topics import ensure_topics

    _logging()
    settings = get_settings()
    if create_topics:
        ensure_topics(settings)
    return settings


def _symbols(text: str) -> list[str]:
    from crypto_mlops.data.schema import normalize_symbol

    symbols = [normalize_symbol(s) for s in text.split(",") if s.strip()]
    if not symbols:
        raise InvalidInput("--symbols needs at least one pair")
    return symbols


@app.command("topics")
@friendly_errors
def topics(
    create: Annotated[bool, typer.Option("--create", help="Create the missing streaming topics.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the broker's topics (and create crypto-prices, predictions, alerts, dead-letter with --create)."""
    from crypto_mlops.streaming.topics import ensure_topics, list_topics, topic_names

    settings = get_settings()
    if create:
        ensure_topics(settings)
    existing = list_topics(settings)
    roles = {name: role for role, name in topic_names(settings).items()}
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "bootstrap": settings.kafka_bootstrap_servers,
                    "topics": [{"name": n, "partitions": p, "role": roles.get(n)} for n, p in sorted(existing.items())]
                    + [
                        {"name": n, "partitions": 0, "role": r, "missing": True}
                        for n, r in roles.items()
                        if n not in existing
                    ],
                }
            )
        )
        return
    table = Table(title=f"Topics on {settings.kafka_bootstrap_servers}")
    table.add_column("topic")
    table.add_column("partitions", justify="right")
    table.add_column("role")
    for name, parts in sorted(existing.items()):
        table.add_row(name, str(parts), roles.get(name, ""))
    for name, role in roles.items():
        if name not in existing:
            table.add_row(f"[red]{name}[/]", "missing", role)
    console.print(table)


@app.command("produce")
@friendly_errors
def produce(
    mode: Annotated[Mode, typer.Option("--mode", help="live (exchange), simulate, replay (CSV).")] = Mode.simulate,
    symbols: Annotated[
        str | None, typer.Option("--symbols", help="Comma-separated pairs (default: the PAIRS setting).")
    ] = None,
    data: Annotated[list[Path] | None, typer.Option("--data", help="CSV file(s) to replay (repeatable).")] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Pair of a single replayed CSV.")] = None,
    start: Annotated[str | None, typer.Option("--start", help="Replay from this UTC date.")] = None,
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed",
            help="Event time per wall time (3600: an hourly candle per second; 0: as fast as possible). "
            "Default 1800 for simulate/replay.",
        ),
    ] = None,
    max_messages: Annotated[int | None, typer.Option("--max-messages", min=1, help="Stop after N ticks.")] = None,
    backfill_h: Annotated[
        float,
        typer.Option(
            "--backfill-h",
            min=0,
            help="Send the first H hours of event time at once (simulate/replay: fills the "
            "consumer's windows so the model answers from the start).",
        ),
    ] = 300.0,
    timeframe: Annotated[str | None, typer.Option("--timeframe", help="Candles: 1h for simulate, 1m for live.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Simulator seed (default SYNTHETIC_SEED).")] = None,
    poll_s: Annotated[float, typer.Option("--poll-s", help="Live: seconds between exchange polls.")] = 10.0,
    offline_fallback: Annotated[
        bool,
        typer.Option("--offline-fallback/--no-offline-fallback", help="Live: simulate if the exchange is unreachable."),
    ] = True,
    create_topics: Annotated[bool, typer.Option("--create-topics/--no-create-topics")] = True,
) -> None:
    """Send price ticks (true 24 h statistics, event time, candle) to the prices topic, keyed by symbol."""
    from crypto_mlops.streaming.producer import run_producer

    settings = _prepared_settings(create_topics)
    stop = threading.Event()
    ticks, label = _source(
        mode, symbols, data, symbol, start, max_messages, timeframe, seed, poll_s, offline_fallback, stop
    )
    pace = speed if speed is not None else (0.0 if mode is Mode.live else 1800.0)
    err_console.print(
        f"producing [bold]{label}[/] to {settings.kafka_topic_prices} "
        f"on {settings.kafka_bootstrap_servers} (speed {pace:g}x); Ctrl-C stops and flushes"
    )
    with counting_progress(err_console) as progress:
        task = progress.add_task("ticks", total=max_messages)
        report = run_producer(
            ticks,
            mode=mode.value,
            settings=settings,
            speed=pace,
            max_messages=max_messages,
            backfill=timedelta(hours=backfill_h if mode is not Mode.live else 0),
            stop=stop,
            on_sent=lambda _t: progress.advance(task),
        )
    console.print(
        f"sent {report.sent}, delivered {report.delivered}, failed {report.failed}, "
        f"dropped {report.dropped} (buffer full during an outage) in {report.seconds:.1f} s "
        f"(stopped by {report.stopped_by})"
    )
    if not report.ok:
        for line in report.errors:
            err_console.print(f"[red]{line}[/]")
        lost = report.failed + report.sent - report.delivered + report.dropped
        raise DataUnavailable(f"{lost} ticks were not delivered ({report.dropped} dropped with the buffer full)")


def _source(
    mode: Mode,
    symbols: str | None,
    data: list[Path] | None,
    symbol: str | None,
    start: str | None,
    max_messages: int | None,
    timeframe: str | None,
    seed: int | None,
    poll_s: float,
    offline_fallback: bool,
    stop: threading.Event,
) -> tuple[Iterator[Any], str]:
    from crypto_mlops.streaming import sources

    settings = get_settings()
    if mode is Mode.replay:
        if not data:
            raise InvalidInput("--mode replay needs --data FILE.csv (e.g. ../shared/data/Binance_BTCUSDT_1h.csv)")
        return sources.replay_ticks(data, symbol=symbol, start=start), f"replay of {', '.join(map(str, data))}"
    pairs = _symbols(symbols if symbols is not None else ",".join(settings.pair_list()))
    seed = settings.synthetic_seed if seed is None else seed
    if mode is Mode.simulate:
        tf = timeframe or "1h"
        per_symbol = None if max_messages is None else -(-max_messages // len(pairs))
        return sources.simulate_ticks(pairs, tf, seed=seed, max_bars=per_symbol), f"synthetic {tf} {pairs}"
    tf = timeframe or "1m"
    from crypto_mlops.data.sources.ccxt_source import fetch_ohlcv, make_exchange

    exchange = make_exchange(settings.exchange, settings.exchange_timeout_s)
    try:  # one probe, so an offline start says so at once
        fetch_ohlcv(pairs[0], tf, None, 2, exchange, retries=settings.exchange_max_retries)
    except DataUnavailable as exc:
        if not offline_fallback:
            raise
        err_console.print(f"[yellow]exchange {settings.exchange} unreachable ({exc}); using the simulator[/]")
        return sources.simulate_ticks(pairs, "1h", seed=seed), f"synthetic 1h {pairs} (offline fallback)"
    return (sources.live_ticks(pairs, exchange, tf, poll_s=poll_s, stop=stop), f"live {settings.exchange} {tf} {pairs}")


@app.command("consume")
@friendly_errors
def consume(
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Messages taken per batch (default: 500, or 2000 with a model)."),
    ] = None,
    group: Annotated[str | None, typer.Option("--group", help="Consumer group (default KAFKA_CONSUMER_GROUP).")] = None,
    max_messages: Annotated[int | None, typer.Option("--max-messages", min=1, help="Stop after N answers.")] = None,
    idle_exit_s: Annotated[
        float | None,
        typer.Option("--idle-exit-s", help="Stop after this long without messages (default: keep running)."),
    ] = None,
    window: Annotated[int, typer.Option("--window", min=60, help="Candles kept per symbol.")] = 1500,
    model: Annotated[bool, typer.Option("--model/--no-model", help="Add the champion model's prediction.")] = True,
    cooldown_h: Annotated[
        float, typer.Option("--cooldown-h", min=0, help="Alert cooldown per symbol and rule (event hours).")
    ] = 4.0,
    reload_every_s: Annotated[float, typer.Option("--reload-every-s", help="Reload the champion this often.")] = 600.0,
    create_topics: Annotated[bool, typer.Option("--create-topics/--no-create-topics")] = True,
) -> None:
    """Answer every tick with heuristic + model prediction, publish alerts; commit after delivery."""
    from crypto_mlops.streaming.alerts import AlertEngine, AlertThresholds
    from crypto_mlops.streaming.consumer import StreamConsumer
    from crypto_mlops.streaming.processor import StreamProcessor

    settings = _prepared_settings(create_topics)
    book = None
    if model:
        from crypto_mlops.service.pair_models import PairModels

        book = PairModels(settings)  # each pair's own champion, else the global one, else the baseline
        served = book.serve(settings.default_symbol)
        predictor = served.predictor
        err_console.print(
            f"model for {settings.default_symbol}: {predictor.model_name} v{predictor.model_version}"
            f" ({predictor.model_type}, {served.alias}); other pairs resolve their own champion"
        )
    processor = StreamProcessor(
        window_size=window,
        alerts=AlertEngine(AlertThresholds(cooldown=timedelta(hours=cooldown_h))),
        pair_predictor=book.get if book is not None else None,
    )
    consumer = StreamConsumer(
        processor,
        settings,
        group_id=group,
        batch_size=batch_size,
        reload_model=book.refresh_if_promoted if book is not None else None,
        reload_every_s=reload_every_s,
    )
    err_console.print(
        f"consuming {settings.kafka_topic_prices} as group {group or settings.kafka_consumer_group} "
        f"on {settings.kafka_bootstrap_servers}: every pair on the topic (`stream produce` sends PAIRS = "
        f"{','.join(settings.pair_list())} by default); Ctrl-C stops cleanly"
    )
    try:
        report = consumer.run(max_messages=max_messages, idle_exit_s=idle_exit_s)
    finally:
        consumer.close()
    console.print_json(json.dumps(report.summary()))
