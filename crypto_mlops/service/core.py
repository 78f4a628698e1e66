"""`CryptoService`: the one service layer behind REST, GraphQL, gRPC, the CLI and the SSE feed.

A small facade: it builds the collaborators (markets, signals, dashboard, events, recorder), runs the
background threads, and keeps the methods every adapter calls. Adapters validate the *shape* of their
input; the collaborators validate its *meaning* and raise `InvalidInput` (caller's fault) or
`DataUnavailable` (upstream down), which each adapter maps to its own error.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, TypedDict, Unpack

from crypto_mlops import __version__
from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.schema import normalize_symbol
from crypto_mlops.models.contract import Predictor
from crypto_mlops.service.cache import CacheKey
from crypto_mlops.service.dashboard import Dashboard
from crypto_mlops.service.events import Events, PredictionEvent, PriceUpdate
from crypto_mlops.service.feed import PeriodicPredictionFeed, PredictionFeed
from crypto_mlops.service.forecast_history import ForecastHistory
from crypto_mlops.service.heap import freeze_heap
from crypto_mlops.service.history import HistoryStore
from crypto_mlops.service.limits import DEFAULT_CHART_POINTS, MAX_CHART_POINTS, MAX_HORIZON_MIN, check_range
from crypto_mlops.service.market import Market, MarketLoader, Markets, default_market_loader
from crypto_mlops.service.model_holder import ModelHolder
from crypto_mlops.service.pair_models import PairModels
from crypto_mlops.service.recording import HistoryKind, Recorder
from crypto_mlops.service.results import (
    ChartSeries,
    CompareResult,
    HealthResult,
    MetricsResult,
    MLSignalResult,
    ModelInfo,
    OHLCVResult,
    ReloadResult,
    SignalResult,
    iso_z,
    utc_now,
)
from crypto_mlops.service.screener import Screener
from crypto_mlops.service.signals import Signals
from crypto_mlops.service.telemetry import ServedModel, Telemetry

log = logging.getLogger(__name__)

WARM_RETRY_FIRST_S = 1.0  # warm-up retries (source or model store down at start): 1, 2, 4 ... 30 s
WARM_RETRY_MAX_S = 30.0


class ServiceParts(TypedDict, total=False):
    """Collaborators a caller may pass in (tests, other hosts); each one missing is built from the settings."""

    market_loader: MarketLoader
    model_holder: ModelHolder | None  # one model for every pair (tests, hosts without per-pair champions)
    model_book: PairModels | None  # the model per pair (default: champion-<pair> -> champion -> baseline)
    history: HistoryStore | None


class CryptoService:
    """The service every adapter holds: resolves a request's candles, computes, records, reports."""

    def __init__(self, settings: Settings | None = None, **parts: Unpack[ServiceParts]) -> None:
        unknown = parts.keys() - ServiceParts.__optional_keys__
        if unknown:
            raise TypeError(f"CryptoService() got unexpected keyword arguments: {sorted(unknown)}")
        self._settings = settings or get_settings()
        self.telemetry = Telemetry()
        self.history = parts.get("history") or HistoryStore(self._settings.database_url)
        holder = parts.get("model_holder")
        self.models = parts.get("model_book") or (
            PairModels.single(holder) if holder is not None else PairModels(self._settings)
        )
        self.markets = Markets(self._settings, parts.get("market_loader", default_market_loader))
        self.cache = self.markets.cache
        self.telemetry.watch_cache(self.cache.stats)
        self.recorder = Recorder(self.history, self.telemetry)
        self.signals = Signals(self._settings, self.markets, self.models)
        self.dashboard = Dashboard(self.models)
        self.events = Events(self._settings, self.markets, self.signals)
        # The history replays the model type that serves each pair now (its own champion, else the global).
        self.forecast_history = ForecastHistory(self.markets, lambda pair: str(self.models.get(pair).model_type))
        self.models.subscribe(self._report_model)
        self.telemetry.watch_models(self._served_models)
        self.models.subscribe(self.dashboard.forget_forecasts)
        self.feed: PredictionFeed = PeriodicPredictionFeed(
            self.prediction_event, self._settings.pair_list(), interval_s=5.0
        )
        self._started = False
        self._stop = threading.Event()
        # Ready = nothing pending: set, unless a warm-up (model load, default candles) is under way.
        self._ready = threading.Event()
        self._ready.set()

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        """New settings apply to every collaborator from the next request on (memo switch, defaults...)."""
        self._settings = value
        for part in (self.markets, self.signals, self.events):
            part.settings = value

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, warm: bool = True) -> None:
        """Start background refresh; optionally load the model and warm the default key now."""
        if self._started:
            return
        self._started = True
        self._stop.clear()
        self.cache.start()
        if warm:
            self._ready.clear()
            threading.Thread(target=self._warm, name="service-warm", daemon=True).start()
        if self.settings.model_poll_s > 0:
            threading.Thread(target=self._poll_champion, name="champion-poll", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self.cache.stop()
        self.history.close()
        self._started = False

    def set_prediction_feed(self, feed: PredictionFeed) -> None:
        self.feed = feed

    def _poll_champion(self) -> None:
        while not self._stop.wait(self.settings.model_poll_s):
            if self.models.loaded:  # the first load is the warm-up's (or the first request's) job
                self.models.refresh_if_promoted()

    @property
    def ready(self) -> bool:
        """False while the warm-up runs: the model is not loaded or the default pair's candles not cached."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def _warm(self) -> None:
        """Load the model and cache the default pair's candles (retrying), then precompute its answers."""
        delay = WARM_RETRY_FIRST_S
        while True:
            try:
                self.models.get()
                self.market(self.settings.default_symbol, self.settings.default_timeframe, 200)
                break
            except Exception as exc:
                log.warning("warm-up incomplete (%s); retrying in %.0f s", exc, delay)
                if self._stop.wait(delay):
                    return
                delay = min(2 * delay, WARM_RETRY_MAX_S)
        try:  # the first request after ready is then a memo hit, as fast as any other
            self.signal(self.settings.default_symbol, self.settings.default_timeframe, record=False)
            self.ml_signal(self.settings.default_symbol, self.settings.default_timeframe, record=False)
        except Exception as exc:
            log.warning("could not precompute the default signals: %s", exc)
        freeze_heap(self.settings.gc_freeze)  # servers only: the warm objects are long-lived
        self._ready.set()

    def _served_models(self) -> list[ServedModel]:
        holders = [self.models.default, *self.models.holders.values()]
        return [(h.alias, h.current, h.fallback) for h in holders if h.current is not None]

    def _report_model(self, predictor: Predictor, fallback: bool) -> None:
        self.telemetry.set_model(
            str(predictor.model_name), str(predictor.model_version), str(predictor.model_type), fallback
        )

    # -- market data --------------------------------------------------------------------------
    def resolve_key(self, symbol: str | None, timeframe: str | None, exchange: str | None = None) -> CacheKey:
        return self.markets.resolve_key(symbol, timeframe, exchange)

    def market(self, symbol: str | None, timeframe: str | None, limit: int, exchange: str | None = None) -> Market:
        return self.markets.market(symbol, timeframe, limit, exchange)

    def ohlcv(self, symbol: str | None, timeframe: str | None, limit: int, exchange: str | None = None) -> OHLCVResult:
        return self.markets.ohlcv(symbol, timeframe, limit, exchange)

    # -- signals ------------------------------------------------------------------------------
    def signal(
        self,
        symbol: str | None,
        timeframe: str | None = None,
        limit: int = 200,
        horizon_min: int = 60,
        explain: bool = False,
        exchange: str | None = None,
        adapter: str = "rest",
        record: bool = True,
    ) -> SignalResult:
        horizon_min = check_range("horizon_min", horizon_min, 1, MAX_HORIZON_MIN)
        result = self.signals.heuristic(self.market(symbol, timeframe, limit, exchange), horizon_min, explain, exchange)
        if record:
            self.recorder.signal(result, adapter)
        return result

    def ml_signal(
        self,
        symbol: str | None,
        timeframe: str | None = None,
        limit: int = 200,
        include_heuristic: bool = True,
        exchange: str | None = None,
        adapter: str = "rest",
        record: bool = True,
    ) -> MLSignalResult:
        result = self.signals.ml(self.market(symbol, timeframe, limit, exchange), include_heuristic, exchange)
        if record:
            self.recorder.ml_prediction(result, adapter)
        return result

    def compare(
        self, symbol: str | None, timeframe: str | None = None, limit: int = 200, exchange: str | None = None
    ) -> CompareResult:
        """Heuristic and ML on the same candles (fetched once); not stored, like the seed."""
        return self.signals.compare(self.market(symbol, timeframe, limit, exchange), exchange)

    @property
    def screener(self) -> Screener:
        """Many pairs at once, ranked by forecast (freqtrade's pairlist): each through this facade, unrecorded."""
        return Screener(
            lambda s, tf, ex: self.ml_signal(s, tf, include_heuristic=False, exchange=ex, record=False),
            lambda s, tf, ex: self.signal(s, tf, exchange=ex, record=False),
            default_pairs=self.settings.pairs,
            default_symbol=self.settings.default_symbol,
        )

    # -- model --------------------------------------------------------------------------------
    def model_info(self, symbol: str | None = None) -> ModelInfo:
        """The model serving `symbol` (default: DEFAULT_SYMBOL) and which alias resolved for it."""
        pair = normalize_symbol(symbol) if symbol else None
        if not self._ensure_model():
            return self.models.default.info()
        return self.models.info(pair)

    def reload_model(self) -> ReloadResult:
        return self.models.reload()

    def _ensure_model(self) -> bool:
        try:
            self.models.get()
            return True
        except Exception as exc:
            log.error("no model at all (not even the baseline): %s", exc)
            return False

    # -- health / metrics / history -------------------------------------------------------------
    def health(self) -> HealthResult:
        # Health must not wait for a model load (SPEC §2): report what is loaded right now, and
        # "starting" until the warm-up has loaded the model and cached the default candles.
        info = self.models.default.info()  # what is loaded now: health never loads a model
        db_ok = self.history.ping()
        status = "ok" if db_ok else "degraded"
        return HealthResult(
            status=status if self.ready else "starting",
            ml_available=info.model_loaded,
            timestamp=iso_z(utc_now()) or "",
            version=__version__,
            model_loaded=info.model_loaded,
            model_version=info.model_version,
            model_fallback=info.fallback,
            data_source=self.settings.data_source,
            database=f"{self.history.backend}:{'ok' if db_ok else 'unreachable'}",
        )

    def metrics(self) -> MetricsResult:
        return self.telemetry.snapshot(ml_available=self.models.loaded)

    def prometheus(self) -> bytes:
        return self.telemetry.prometheus(self.history.write_errors, self.history.dropped, self.history.pending)

    def history_tail(self, kind: HistoryKind, n: int, symbol: str | None = None) -> list[dict[str, Any]]:
        return self.recorder.tail(kind, n, symbol)

    # -- dashboard / streaming ------------------------------------------------------------------
    def chart(
        self,
        symbol: str | None,
        timeframe: str | None = None,
        limit: int = 200,
        points: int = DEFAULT_CHART_POINTS,
        exchange: str | None = None,
    ) -> ChartSeries:
        """Candles with the heuristic regime per bar, and predicted vs realized RV24 at past origins."""
        points = check_range("points", points, 1, MAX_CHART_POINTS)
        return self.dashboard.chart(self.market(symbol, timeframe, limit, exchange), points)

    def price_update(self, symbol: str, timeframe: str | None = None) -> PriceUpdate:
        """Latest price, 24 h change/volume and volatility regime from cached candles (gRPC StreamPrices)."""
        return self.events.price_update(symbol, timeframe)

    def prediction_event(self, symbol: str, timeframe: str | None = None) -> PredictionEvent:
        """One `predictions`-topic-shaped event computed in-process (the built-in SSE feed)."""
        return self.events.prediction_event(symbol, timeframe)

    def sse_symbols(self, symbols: str | None) -> list[str]:
        return self.events.sse_symbols(symbols)
