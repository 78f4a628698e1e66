"""Counters behind `/metrics` (seed JSON keys) and `/metrics/prometheus`.

Each service instance owns its own Prometheus registry, so several apps in one process (tests) do
not collide on metric names.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from crypto_mlops.models.contract import Predictor
from crypto_mlops.service.cache import CacheStats
from crypto_mlops.service.results import MetricsResult, iso_z, utc_now

PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_LATEST


class Telemetry:
    def __init__(self) -> None:
        self.start_time = utc_now()
        self._lock = threading.Lock()
        self.requests_total = 0
        self.signals_total = 0
        self.ml_predictions_total = 0
        self.last_signal_at: datetime | None = None
        self.last_ml_prediction_at: datetime | None = None

        self.registry = CollectorRegistry()
        self.http_requests = Counter(
            "crypto_http_requests_total",
            "HTTP requests by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.http_latency = Histogram(
            "crypto_http_request_duration_seconds",
            "HTTP request latency by route.",
            ["route", "method"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
        )
        self.predictions = Counter(
            "crypto_predictions_total",
            "Signals and ML predictions served, by kind and adapter.",
            ["kind", "adapter"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "crypto_model_info",
            "The model being served (value 1; labels say which).",
            ["model_name", "model_version", "model_type", "fallback"],
            registry=self.registry,
        )
        self.predicted_rv = Gauge(
            "crypto_predicted_rv_24h",
            "Last predicted 24 h realized volatility per symbol.",
            ["symbol"],
            registry=self.registry,
        )
        self.history_write_errors = Gauge(
            "crypto_history_write_errors",
            "History rows that could not be stored.",
            registry=self.registry,
        )
        self.history_dropped = Gauge(
            "crypto_history_rows_dropped",
            "History rows dropped because the write-behind queue was full.",
            registry=self.registry,
        )
        self.history_pending = Gauge(
            "crypto_history_rows_pending",
            "History rows queued, not yet stored.",
            registry=self.registry,
        )

    def watch_cache(self, stats: Callable[[], CacheStats]) -> None:
        """Report the candle cache (entries, bytes, bounds, evictions) in the Prometheus exposition."""
        self.registry.register(_CacheCollector(stats))

    def watch_models(self, served: Callable[[], list[ServedModel]]) -> None:
        """Report every loaded model (the global champion and each pair's) at scrape time."""
        self.registry.register(_ModelsCollector(served))

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests_total += 1
        self.http_requests.labels(route, method, str(status)).inc()
        self.http_latency.labels(route, method).observe(seconds)

    def count_signal(self, adapter: str) -> None:
        with self._lock:
            self.signals_total += 1
            self.last_signal_at = utc_now()
        self.predictions.labels("heuristic", adapter).inc()

    def count_ml_prediction(self, adapter: str, symbol: str, predicted_rv: float) -> None:
        with self._lock:
            self.ml_predictions_total += 1
            self.last_ml_prediction_at = utc_now()
        self.predictions.labels("ml", adapter).inc()
        self.predicted_rv.labels(symbol).set(predicted_rv)

    def set_model(self, name: str, version: str, model_type: str, fallback: bool) -> None:
        self.model_info.clear()
        self.model_info.labels(name, version, model_type, str(fallback).lower()).set(1)

    def snapshot(self, ml_available: bool) -> MetricsResult:
        with self._lock:
            return MetricsResult(
                start_time=iso_z(self.start_time) or "",
                requests_total=self.requests_total,
                signals_total=self.signals_total,
                ml_predictions_total=self.ml_predictions_total,
                last_signal_at=iso_z(self.last_signal_at),
                last_ml_prediction_at=iso_z(self.last_ml_prediction_at),
                ml_available=ml_available,
            )

    def prometheus(self, history_write_errors: int, history_dropped: int = 0, history_pending: int = 0) -> bytes:
        self.history_write_errors.set(history_write_errors)
        self.history_dropped.set(history_dropped)
        self.history_pending.set(history_pending)
        return generate_latest(self.registry)


# (registry alias it serves for, e.g. champion or champion-ethusdt; the model; whether it is the fallback)
ServedModel = tuple[str, Predictor, bool]


class _ModelsCollector(Collector):
    """`crypto_served_model_info`: one series per loaded holder, read at scrape time. `crypto_model_info`
    keeps showing the most recently changed model only; this one shows what serves each pair."""

    def __init__(self, served: Callable[[], list[ServedModel]]) -> None:
        self._served = served

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "crypto_served_model_info",
            "Every loaded model by the registry alias it serves for (value 1; labels say which).",
            labels=["alias", "model_name", "model_version", "model_type", "engine", "fallback"],
        )
        for alias, predictor, fallback in self._served():
            labels = [alias, str(predictor.model_name), str(predictor.model_version), str(predictor.model_type)]
            family.add_metric([*labels, str(predictor.engine), str(fallback).lower()], 1)
        yield family


class _CacheCollector(Collector):
    """Reads the cache's numbers at scrape time (no bookkeeping on the request path)."""

    def __init__(self, stats: Callable[[], CacheStats]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        s = self._stats()
        yield GaugeMetricFamily("crypto_ohlcv_cache_entries", "Keys in the candle cache.", value=s.entries)
        yield GaugeMetricFamily("crypto_ohlcv_cache_bytes", "Bytes of candles in the cache.", value=s.bytes)
        yield GaugeMetricFamily("crypto_ohlcv_cache_max_entries", "OHLCV_CACHE_MAX_ENTRIES.", value=s.max_entries)
        yield GaugeMetricFamily("crypto_ohlcv_cache_max_bytes", "OHLCV_CACHE_MAX_MB in bytes.", value=s.max_bytes)
        yield CounterMetricFamily(
            "crypto_ohlcv_cache_evictions", "Least recently used keys dropped to stay in bounds.", value=s.evictions
        )
        yield CounterMetricFamily("crypto_ohlcv_cache_hits", "Requests served from the cache.", value=s.hits)
        yield CounterMetricFamily("crypto_ohlcv_cache_misses", "Requests that waited for the source.", value=s.misses)
