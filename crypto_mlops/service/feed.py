"""Live prediction feeds for `GET /v1/stream/predictions` (server-sent events).

`PredictionFeed` is the plug: anything with a `name` and an async `subscribe()` that yields event
dicts shaped like a `predictions` topic message (`symbol, timestamp, source, candle_time, price_data,
heuristic_signal, ml_prediction, anomalies, processing_latency_ms`). The API opens one subscription
per SSE client and closes it (`aclose()`) when the client goes away. A feed whose source can fail
also yields status events, marked `"event": "status"` (`{"event": "status", "feed": ..., "state":
"down" | "up" | "stale", "reason": ...}`); the API relays them as `event: status` and does not count
them as predictions.

`PeriodicPredictionFeed` is the built-in feed: it asks the service itself for a prediction every
`interval_s` (cached candles, so cheap). The streaming package provides a Kafka-backed feed that reads
the `predictions` topic; `CryptoService.set_prediction_feed(feed)` swaps it in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from crypto_mlops.config import Settings

log = logging.getLogger(__name__)


@runtime_checkable
class PredictionFeed(Protocol):
    name: str

    def subscribe(self, symbols: Sequence[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        """Events for `symbols` (normalized, e.g. 'BTC/USDT'; None = all) until the iterator is closed."""
        ...

    def close(self) -> None:
        """Release what the feed holds (a Kafka consumer); the app calls it on shutdown."""
        ...


class PeriodicPredictionFeed:
    """Computes a prediction event per symbol every `interval_s` with the in-process service."""

    name = "periodic"

    def __init__(
        self,
        make_event: Callable[[str], Mapping[str, Any]],
        default_symbols: Sequence[str],
        interval_s: float = 5.0,
    ) -> None:
        self._make_event = make_event
        self.default_symbols = list(default_symbols)
        self.interval_s = interval_s

    async def subscribe(self, symbols: Sequence[str] | None = None) -> AsyncIterator[dict[str, Any]]:
        wanted = list(symbols) if symbols else self.default_symbols
        while True:
            for symbol in wanted:
                try:
                    event = dict(await asyncio.to_thread(self._make_event, symbol))
                except Exception as exc:  # one bad cycle must not end the stream
                    event = {"symbol": symbol, "error": f"{type(exc).__name__}: {exc}"}
                yield event
            await asyncio.sleep(self.interval_s)

    def close(self) -> None:
        """Nothing to release: each subscription ends with its client."""


def select_feed(
    make_event: Callable[[str], Mapping[str, Any]], settings: Settings, mode: str | None = None
) -> PredictionFeed:
    """The Kafka-backed feed when asked for (or, with `auto`, when the broker answers); else periodic."""
    mode = mode or settings.prediction_feed
    periodic = PeriodicPredictionFeed(make_event, settings.pair_list(), interval_s=settings.prediction_feed_interval_s)
    if mode == "periodic":
        return periodic
    try:
        from crypto_mlops.streaming.feed import KafkaPredictionFeed, kafka_reachable
    except ImportError as exc:  # streaming extras missing: the in-process feed still works
        log.warning("Kafka prediction feed unavailable (%s); using the periodic feed", exc)
        return periodic
    if mode == "auto" and not kafka_reachable(settings, timeout=2.0):
        log.info("Kafka at %s not reachable: SSE uses the periodic in-process feed", settings.kafka_bootstrap_servers)
        return periodic
    log.info("SSE relays the Kafka topic %s", settings.kafka_topic_predictions)
    return KafkaPredictionFeed(settings).start()
