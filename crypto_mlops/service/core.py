"""`CryptoService`: the one service layer behind REST, GraphQL, gRPC, the CLI and the SSE feed.

Adapters validate the *shape* of their input; this layer validates its *meaning* (symbol, timeframe,
exchange, limits) and raises `InvalidInput` (caller's fault) or `DataUnavailable` (upstream down), which
each adapter maps to its own error (HTTP 4xx/503, GraphQL error, gRPC INVALID_ARGUMENT/UNAVAILABLE).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

import numpy as np
import pandas as pd

from crypto_mlops import __version__
from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.schema import normalize_symbol, symbol_slug, timeframe_hours
from crypto_mlops.service.cache import CacheKey, OHLCVCache
from crypto_mlops.service.feed import PeriodicPredictionFeed, PredictionFeed
from crypto_mlops.service.history import HistoryStore
from crypto_mlops.service.model_holder import ModelHolder, PredictorLike
from crypto_mlops.service.results import (
    ChartSeries,
    CompareDetail,
    CompareHeuristic,
    CompareML,
    CompareResult,
    FeatureRow,
    HealthResult,
    HeuristicComparison,
    MetricsResult,
    MLPredictionOut,
    MLSignalResult,
    MLVsHeuristic,
    ModelInfo,
    OHLCVBar,
    OHLCVResult,
    ReloadResult,
    SignalExplanation,
    SignalResult,
    VolatilityPoint,
    iso_z,
    utc_now,
)
from crypto_mlops.service.telemetry import Telemetry

log = logging.getLogger(__name__)

MIN_LIMIT = 50  # SMA48 needs 48 bars; fewer makes the heuristic meaningless
MAX_LIMIT = 1000
MAX_HORIZON_MIN = 10080  # one week: the horizon is echoed, a longer one would be meaningless for hourly risk
CACHE_BARS = 1500  # bars fetched per key; the model sees all of them (HAR wants ~1000), responses slice `limit`
MAX_SSE_SYMBOLS = 10
STATIC_SOURCE_TTL_S = 900.0  # csv / synthetic candles: re-read every 15 min at most
MAX_CHART_POINTS = 60
MAX_SLOW_ORIGINS = 8
RESULT_MEMO_SIZE = 512
T = TypeVar("T")
ORIGIN_MEMO_SIZE = 5000
MODEL_HISTORY_BARS = 1000  # history the baseline needs to fit HAR on the frame itself
_EXCHANGE_RE = re.compile(r"^[a-z0-9_]{2,32}$")

MarketLoader = Callable[[CacheKey, int, Settings], MarketData]


def _default_market_loader(key: CacheKey, bars: int, settings: Settings) -> MarketData:
    from crypto_mlops.data import load_market_data

    csv_path = _csv_path_for(settings.data_csv_path, key.symbol, key.timeframe) if key.source == "csv" else None
    if key.source == "ccxt" and key.exchange != settings.exchange:
        settings = settings.model_copy(update={"exchange": key.exchange})
    data = load_market_data(key.source, key.symbol, key.timeframe, limit=bars, csv_path=csv_path, settings=settings)
    if key.source == "csv" and data.symbol != key.symbol:
        raise InvalidInput(f"DATA_CSV_PATH holds {data.symbol} candles, not {key.symbol}")
    return data


def _csv_path_for(configured: Path | None, symbol: str, timeframe: str) -> Path:
    """DATA_CSV_PATH: one file, or a directory of `*<SLUG>*<timeframe>*.csv` (Binance_BTCUSDT_1h.csv)."""
    if configured is None:
        raise DataUnavailable("DATA_SOURCE=csv but DATA_CSV_PATH is not set")
    if configured.is_dir():
        slug = symbol_slug(symbol)
        matches = sorted(configured.glob(f"*{slug}*{timeframe}*.csv")) or sorted(configured.glob(f"*{slug}*.csv"))
        if not matches:
            raise InvalidInput(f"no CSV for {symbol} {timeframe} under DATA_CSV_PATH")
        return matches[0]
    if not configured.exists():
        raise DataUnavailable(f"DATA_CSV_PATH {configured} does not exist")
    return configured


@dataclass(frozen=True)
class Market:
    """Candles resolved for one request: the full cached history plus the request's slice."""

    key: CacheKey
    data: MarketData
    age_s: float
    limit: int

    @property
    def frame(self) -> pd.DataFrame:
        return self.data.frame.iloc[-self.limit :]

    @property
    def candle_time(self) -> str:
        return iso_z(self.data.last_timestamp) or ""

    @property
    def fetch_id(self) -> int:
        return int(cast(int, self.data.meta.get("fetch_id", id(self.data))))


class CryptoService:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        market_loader: MarketLoader = _default_market_loader,
        model_holder: ModelHolder | None = None,
        history: HistoryStore | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.telemetry = Telemetry()
        self._market_loader = market_loader
        self.cache = OHLCVCache(
            lambda key, bars: self._load_market(key, bars),
            ttl_s=self.settings.ohlcv_cache_ttl_s,
            min_bars=CACHE_BARS,
            static_ttl_s=STATIC_SOURCE_TTL_S,
        )
        self.models = model_holder or ModelHolder(self.settings)
        self.models._on_change = self._model_changed
        self.history = history or HistoryStore(self.settings.database_url)
        self.feed: PredictionFeed = PeriodicPredictionFeed(
            self.prediction_event, [self.settings.default_symbol], interval_s=5.0
        )
        # Forecast per (key, model, origin candle): past origins never change, so each is computed once.
        self._origin_memo: OrderedDict[tuple[Any, ...], float] = OrderedDict()
        self._results: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._chart_lock = threading.Lock()
        self._started = False
        self._stop = threading.Event()

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, warm: bool = True) -> None:
        """Start background refresh; optionally load the model and warm the default key now."""
        if self._started:
            return
        self._started = True
        self._stop.clear()
        self.cache.start()
        if warm:
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

    def _warm(self) -> None:
        try:
            self.models.get()
            self.market(self.settings.default_symbol, self.settings.default_timeframe, 200)
        except Exception as exc:
            log.warning("warm-up incomplete: %s", exc)

    # -- market data --------------------------------------------------------------------------
    def resolve_key(self, symbol: str | None, timeframe: str | None, exchange: str | None = None) -> CacheKey:
        sym = normalize_symbol(symbol or self.settings.default_symbol)
        tf = timeframe or self.settings.default_timeframe
        timeframe_hours(tf)  # raises InvalidInput for unknown timeframes
        source = self.settings.data_source
        ex = (exchange or self.settings.exchange).strip().lower()
        if not _EXCHANGE_RE.match(ex):
            raise InvalidInput(f"invalid exchange {exchange!r}: expected a ccxt exchange id such as 'binance'")
        if source == "ccxt":
            import ccxt

            if ex not in ccxt.exchanges:
                raise InvalidInput(f"unknown exchange {ex!r}: not a ccxt exchange id")
        else:
            ex = ""  # csv/synthetic candles do not depend on the exchange: share one cache entry
        return CacheKey(source, ex, sym, tf)

    def market(self, symbol: str | None, timeframe: str | None, limit: int, exchange: str | None = None) -> Market:
        if not MIN_LIMIT <= int(limit) <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between {MIN_LIMIT} and {MAX_LIMIT}, got {limit}")
        key = self.resolve_key(symbol, timeframe, exchange)
        cached = self.cache.get(key, int(limit))
        if len(cached.data.frame) < MIN_LIMIT:
            raise DataUnavailable(
                f"insufficient OHLCV data: {len(cached.data.frame)} candles of {key.symbol} {key.timeframe} "
                f"from {cached.data.source}, need {MIN_LIMIT}"
            )
        return Market(key, cached.data, cached.age_s, int(limit))

    def _load_market(self, key: CacheKey, bars: int) -> MarketData:
        try:
            return self._market_loader(key, bars, self.settings)
        except (InvalidInput, DataUnavailable):
            raise
        except Exception as exc:  # network errors, ccxt errors, broken files: the source is unavailable
            raise DataUnavailable(f"{key.source} source failed for {key.symbol} {key.timeframe}: {exc}") from exc

    def ohlcv(self, symbol: str | None, timeframe: str | None, limit: int, exchange: str | None = None) -> OHLCVResult:
        m = self.market(symbol, timeframe, limit, exchange)
        return OHLCVResult(
            symbol=m.key.symbol,
            exchange=exchange or self.settings.exchange,
            timeframe=m.key.timeframe,
            limit=m.limit,
            rows=len(m.frame),
            data=_bars(m.frame),
            source=m.data.source,
            candle_time=m.candle_time,
            cache_age_s=round(m.age_s, 3),
        )

    # -- heuristic ----------------------------------------------------------------------------
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
        if not 1 <= int(horizon_min) <= MAX_HORIZON_MIN:
            raise InvalidInput(f"horizon_min must be between 1 and {MAX_HORIZON_MIN}, got {horizon_min}")
        m = self.market(symbol, timeframe, limit, exchange)
        result = self._signal_from(m, horizon_min, explain, exchange)
        if record:
            self.telemetry.count_signal(adapter)
            self.history.add_signal(
                utc_now(),
                {
                    "symbol": result.symbol,
                    "timeframe": result.timeframe,
                    "source": result.source,
                    "candle_time": result.candle_time,
                    "horizon_min": horizon_min,
                    "risk_score": result.risk_score,
                    "nowcast_ret": result.nowcast_ret,
                    "vol": result.vol,
                    "vol_regime": result.vol_regime,
                    "risk_level": result.risk_level,
                    "method": result.method,
                },
                result.model_dump(mode="json"),
            )
        return result

    def _signal_from(self, m: Market, horizon_min: int, explain: bool, exchange: str | None) -> SignalResult:
        from crypto_mlops.signals import heuristic_signal

        h = self._memo(
            ("heuristic", m.key, m.fetch_id, m.limit, explain),
            lambda: heuristic_signal(m.frame, bar_hours=m.data.bar_hours, explain=explain),
        )
        explanation = None
        if explain:
            tail = self._memo(
                ("features_tail", m.key, m.fetch_id, m.limit), lambda: _features_tail(m.frame, m.data.bar_hours)
            )
            explanation = SignalExplanation(
                nowcast_ret=_num(h.nowcast_ret),
                vol=_num(h.vol),
                vol_regime=h.vol_regime,
                risk_score=_num(h.risk_score),
                momentum=int(h.momentum),
                inputs=_plain(h.explain) if isinstance(h.explain, dict) else {},
                features_tail=tail,
            )
        return SignalResult(
            symbol=m.key.symbol,
            horizon_min=horizon_min,
            risk_score=round(_num(h.risk_score), 4),
            nowcast_ret=round(_num(h.nowcast_ret), 6),
            vol_regime=h.vol_regime,
            explain=explanation,
            vol=_num(h.vol),
            momentum=int(h.momentum),
            risk_level=h.risk_level,
            timestamp=iso_z(utc_now()) or "",
            source=m.data.source,
            candle_time=m.candle_time,
            exchange=exchange or self.settings.exchange,
            timeframe=m.key.timeframe,
        )

    # -- ML -----------------------------------------------------------------------------------
    def _predict(self, m: Market, predictor: PredictorLike | None = None) -> MLPredictionOut:
        predictor = predictor or self.models.get()
        model_id = (id(predictor), str(predictor.model_version), str(predictor.model_type))
        return self._memo(("ml", m.key, m.fetch_id, model_id), lambda: self._predict_now(m, predictor))

    def _predict_now(self, m: Market, predictor: PredictorLike) -> MLPredictionOut:
        # The model sees the whole cached history (its features need long windows), not just `limit`.
        try:
            p = predictor.predict(m.data.frame, source=m.data.source, bar_hours=m.data.bar_hours)
        except (InvalidInput, DataUnavailable):
            raise
        except Exception as exc:
            raise DataUnavailable(
                f"model {predictor.model_type} v{predictor.model_version} could not predict: {exc}"
            ) from exc
        rv = _num(p.predicted_rv_24h)
        return MLPredictionOut(
            prediction=_num(p.predicted_volatility),
            predicted_rv_24h=rv,
            predicted_volatility=_num(p.predicted_volatility),
            current_volatility=_num(p.current_volatility),
            volatility_regime=p.volatility_regime,
            risk_level=p.risk_level,
            confidence=_num(p.confidence),
            model_name=str(p.model_name),
            model_version=str(p.model_version),
            model_type=str(p.model_type),
            prediction_timestamp=iso_z(pd.Timestamp(p.prediction_timestamp)) or m.candle_time,
            source=str(p.source or m.data.source),
        )

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
        m = self.market(symbol, timeframe, limit, exchange)
        ml = self._predict(m)
        comparison = None
        if include_heuristic:
            h = self._signal_from(m, 60, False, exchange)
            comparison = HeuristicComparison(
                heuristic_risk_score=h.risk_score,
                heuristic_vol_regime=h.vol_regime,
                heuristic_volatility=h.vol,
                heuristic_risk_level=h.risk_level,
                ml_vs_heuristic=MLVsHeuristic(
                    volatility_diff=ml.predicted_volatility - h.vol,
                    regime_match=ml.volatility_regime == h.vol_regime,
                ),
            )
        result = MLSignalResult(
            symbol=m.key.symbol,
            timestamp=iso_z(utc_now()) or "",
            model_version=ml.model_version,
            ml_prediction=ml,
            heuristic_comparison=comparison,
            source=m.data.source,
            candle_time=m.candle_time,
            exchange=exchange or self.settings.exchange,
            timeframe=m.key.timeframe,
        )
        if record:
            self.telemetry.count_ml_prediction(adapter, result.symbol, ml.predicted_rv_24h)
            self.history.add_ml_prediction(
                utc_now(),
                {
                    "symbol": result.symbol,
                    "timeframe": result.timeframe,
                    "source": result.source,
                    "candle_time": result.candle_time,
                    "model_name": ml.model_name,
                    "model_version": ml.model_version,
                    "model_type": ml.model_type,
                    "predicted_rv_24h": ml.predicted_rv_24h,
                    "predicted_volatility": ml.predicted_volatility,
                    "current_volatility": ml.current_volatility,
                    "volatility_regime": ml.volatility_regime,
                    "risk_level": ml.risk_level,
                    "confidence": ml.confidence,
                },
                result.model_dump(mode="json"),
            )
        return result

    def compare(
        self, symbol: str | None, timeframe: str | None = None, limit: int = 200, exchange: str | None = None
    ) -> CompareResult:
        """Heuristic and ML on the same candles (fetched once); not stored, like the seed."""
        m = self.market(symbol, timeframe, limit, exchange)
        h = self._signal_from(m, 60, False, exchange)
        ml = self._predict(m)
        return CompareResult(
            symbol=m.key.symbol,
            timestamp=iso_z(utc_now()) or "",
            heuristic=CompareHeuristic(
                risk_score=h.risk_score, vol_regime=h.vol_regime, volatility=h.vol, risk_level=h.risk_level
            ),
            ml=CompareML(
                predicted_volatility=ml.predicted_volatility,
                predicted_rv_24h=ml.predicted_rv_24h,
                vol_regime=ml.volatility_regime,
                confidence=ml.confidence,
                risk_level=ml.risk_level,
                model_version=ml.model_version,
                model_type=ml.model_type,
            ),
            comparison=CompareDetail(
                volatility_diff=ml.predicted_volatility - h.vol,
                regime_agreement=ml.volatility_regime == h.vol_regime,
                risk_level_agreement=ml.risk_level == h.risk_level,
                ml_confidence=ml.confidence,
            ),
            source=m.data.source,
            candle_time=m.candle_time,
            exchange=exchange or self.settings.exchange,
            timeframe=m.key.timeframe,
        )

    def _memo(self, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """Results are a function of (candles fetch, model): compute once per candle fetch, not per request."""
        if not self.settings.signal_memo:
            return compute()
        with self._memo_lock:
            if key in self._results:
                self._results.move_to_end(key)
                return cast(T, self._results[key])
        value = compute()
        with self._memo_lock:
            self._results[key] = value
            while len(self._results) > RESULT_MEMO_SIZE:
                self._results.popitem(last=False)
        return value

    # -- model --------------------------------------------------------------------------------
    def model_info(self) -> ModelInfo:
        self._ensure_model()
        return self.models.info()

    def reload_model(self) -> ReloadResult:
        return self.models.reload()

    def _ensure_model(self) -> bool:
        try:
            self.models.get()
            return True
        except Exception as exc:
            log.error("no model at all (not even the baseline): %s", exc)
            return False

    def _model_changed(self, predictor: PredictorLike, fallback: bool) -> None:
        self.telemetry.set_model(
            str(predictor.model_name), str(predictor.model_version), str(predictor.model_type), fallback
        )
        with self._chart_lock:
            self._origin_memo.clear()

    # -- health / metrics / history -------------------------------------------------------------
    def health(self) -> HealthResult:
        # Health must not wait for a model load (SPEC §2): report what is loaded right now.
        info = self.models.info()
        db_ok = self.history.ping()
        return HealthResult(
            status="ok" if db_ok else "degraded",
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
        return self.telemetry.prometheus(self.history.write_errors)

    def history_tail(
        self, kind: Literal["signals", "ml_predictions"], n: int, symbol: str | None = None
    ) -> list[dict[str, Any]]:
        if not 1 <= n <= 1000:
            raise InvalidInput(f"n must be between 1 and 1000, got {n}")
        sym = normalize_symbol(symbol) if symbol else None
        if kind == "signals":
            return self.history.tail_signals(n, sym)
        return self.history.tail_ml_predictions(n, sym)

    # -- dashboard / streaming helpers ----------------------------------------------------------
    def chart(
        self,
        symbol: str | None,
        timeframe: str | None = None,
        limit: int = 200,
        points: int = 48,
        exchange: str | None = None,
    ) -> ChartSeries:
        """Candles with the heuristic regime per bar, and predicted vs realized RV24 at past origins."""
        from crypto_mlops.features import compute_features
        from crypto_mlops.signals import vol_regime

        if not 1 <= points <= MAX_CHART_POINTS:
            raise InvalidInput(f"points must be between 1 and {MAX_CHART_POINTS}, got {points}")
        m = self.market(symbol, timeframe, limit, exchange)
        predictor = self.models.get()
        feats = compute_features(m.data.frame, bar_hours=m.data.bar_hours).iloc[-m.limit :]
        vph = feats["vol_per_hour"]
        regimes = [vol_regime(float(v)) if np.isfinite(v) else "unknown" for v in vph]
        series = self._vol_series(m, predictor, points)
        return ChartSeries(
            symbol=m.key.symbol,
            timeframe=m.key.timeframe,
            candles=_bars(m.frame),
            regimes=regimes,
            vol_per_hour=[float(v) if np.isfinite(v) else None for v in vph],
            volatility=series,
            model_version=str(predictor.model_version),
            model_type=str(predictor.model_type),
            source=m.data.source,
            candle_time=m.candle_time,
        )

    def _vol_series(self, m: Market, predictor: PredictorLike, points: int) -> list[VolatilityPoint]:
        frame = m.data.frame
        log_ret = np.log(frame["close"]).diff().to_numpy()
        horizon = max(1, round(24 / m.data.bar_hours))
        n = len(frame)
        # Origins on a grid anchored at the latest candle (so that they are reused across requests),
        # spread over the visible window; the last one is the latest candle (realized unknown).
        first = max(n - m.limit, min(MODEL_HISTORY_BARS, n - 1))
        step = max(1, math.ceil((n - first) / points))
        origins = sorted(range(n - 1, first - 1, -step))[-points:]
        model_id = (m.key, str(predictor.model_name), str(predictor.model_version), str(predictor.model_type))
        with self._chart_lock:
            known = {i: self._origin_memo.get((*model_id, frame.index[i])) for i in origins}
        missing = [i for i, v in known.items() if v is None]
        if missing:
            fast = _one_pass_forecasts(predictor, frame, missing, m.data.bar_hours)
            if fast is None:
                # Origin by origin is a full prediction each: only the latest few.
                latest = missing[-MAX_SLOW_ORIGINS:]
                fresh = self._predict_origins(predictor, frame, latest, m.data.source, m.data.bar_hours)
                fast = {i: _num(p.predicted_rv_24h) for i, p in zip(latest, fresh, strict=True) if p is not None}
            with self._chart_lock:
                for i, value in fast.items():
                    known[i] = value
                    self._origin_memo[(*model_id, frame.index[i])] = value
                while len(self._origin_memo) > ORIGIN_MEMO_SIZE:
                    self._origin_memo.popitem(last=False)
        out: list[VolatilityPoint] = []
        for i in origins:
            predicted = known.get(i)
            if predicted is None:
                continue
            realized = None
            if i + horizon < n:
                window = log_ret[i + 1 : i + 1 + horizon]
                realized = float(math.sqrt(np.nansum(window**2)))
            out.append(
                VolatilityPoint(time=iso_z(frame.index[i]) or "", predicted_rv_24h=predicted, realized_rv_24h=realized)
            )
        return out

    @staticmethod
    def _predict_origins(
        predictor: PredictorLike, frame: pd.DataFrame, origins: list[int], source: str, bar_hours: float
    ) -> list[Any]:
        """Forecast at each origin with only the candles up to it (batched when the model can)."""
        frames = [(frame.iloc[: i + 1], source) for i in origins]
        many = getattr(predictor, "predict_many", None)
        if many is not None:
            try:
                return list(many(frames, bar_hours=bar_hours))
            except Exception as exc:
                log.debug("predict_many failed (%s); predicting one origin at a time", exc)
        out: list[Any] = []
        for f, src in frames:
            try:
                out.append(predictor.predict(f, source=src, bar_hours=bar_hours))
            except Exception as exc:
                log.debug("no prediction at origin %s: %s", f.index[-1], exc)
                out.append(None)
        return out

    def price_update(self, symbol: str, timeframe: str | None = None) -> dict[str, Any]:
        """Latest price, 24 h change/volume and volatility regime from cached candles (gRPC StreamPrices)."""
        from crypto_mlops.signals import heuristic_signal

        m = self.market(symbol, timeframe, MIN_LIMIT)
        frame = m.data.frame
        bars_24h = max(1, round(24 / m.data.bar_hours))
        last = float(frame["close"].iloc[-1])
        base = float(frame["close"].iloc[-1 - bars_24h]) if len(frame) > bars_24h else float(frame["close"].iloc[0])
        h = heuristic_signal(m.frame, bar_hours=m.data.bar_hours)
        return {
            "symbol": m.key.symbol,
            "price": last,
            "change_24h": (last - base) / base * 100.0,
            "volume_24h": float(frame["volume"].iloc[-bars_24h:].sum()),
            "timestamp": int(time.time() * 1000),
            "volatility": _num(h.vol),
            "regime": h.vol_regime,
            "source": m.data.source,
            "candle_time": m.candle_time,
        }

    def prediction_event(self, symbol: str, timeframe: str | None = None) -> dict[str, Any]:
        """One `predictions`-topic-shaped event computed in-process (the built-in SSE feed)."""
        started = time.perf_counter()
        ml = self.ml_signal(symbol, timeframe, 200, include_heuristic=False, adapter="sse", record=False)
        sig = self.signal(symbol, timeframe, 200, adapter="sse", record=False)
        price = self.price_update(symbol, timeframe)
        return {
            "symbol": sig.symbol,
            "timestamp": iso_z(utc_now()),
            "source": sig.source,
            "candle_time": sig.candle_time,
            "price_data": {k: price[k] for k in ("price", "change_24h", "volume_24h")},
            "heuristic_signal": {
                "risk_score": sig.risk_score,
                "vol_regime": sig.vol_regime,
                "vol": sig.vol,
                "risk_level": sig.risk_level,
                "momentum": sig.momentum,
            },
            "ml_prediction": ml.ml_prediction.model_dump(mode="json"),
            "anomalies": [],
            "processing_latency_ms": round((time.perf_counter() - started) * 1000, 3),
            "feed": "periodic",
        }

    def sse_symbols(self, symbols: str | None) -> list[str]:
        if not symbols:
            return [self.settings.default_symbol]
        parts = [s for s in symbols.split(",") if s.strip()]
        if len(parts) > MAX_SSE_SYMBOLS:
            raise InvalidInput(f"at most {MAX_SSE_SYMBOLS} symbols per stream")
        return [normalize_symbol(s) for s in parts]


def _one_pass_forecasts(
    predictor: PredictorLike, frame: pd.DataFrame, origins: list[int], bar_hours: float
) -> dict[int, float] | None:
    """RV24 forecasts at many past origins in one causal pass of the underlying model (fast path).

    Models forecast every row from its past only, so one pass over the features equals one call per
    origin. A baseline that is normally refitted on each request's candles is fitted once, on the
    candles up to the first origin, so every drawn point stays out of sample. None when the predictor
    does not expose a model (the caller then predicts origin by origin).
    """
    model = getattr(predictor, "model", None)
    if model is None or not hasattr(model, "predict"):
        return None
    try:
        from crypto_mlops.models.backtest import model_features
        from crypto_mlops.models.inference import clean_frame

        features = model_features(clean_frame(frame, bar_hours), bar_hours)
        if getattr(predictor, "refit_on_frame", False):
            model = _fit_baseline(str(predictor.model_type), features.loc[: frame.index[min(origins)]], bar_hours)
        times = frame.index[origins]
        mask = features.index.isin(times)
        forecast = model.predict(features, mask)
        out: dict[int, float] = {}
        for i, ts in zip(origins, times, strict=True):
            value = float(forecast.get(ts, float("nan")))
            if math.isfinite(value) and value > 0:
                out[i] = value
        return out
    except Exception as exc:
        log.debug("one-pass forecasts unavailable (%s); predicting origin by origin", exc)
        return None


def _fit_baseline(name: str, features: pd.DataFrame, bar_hours: float) -> Any:
    from crypto_mlops.features.volatility import bars
    from crypto_mlops.models.inference import MIN_FIT_ORIGINS
    from crypto_mlops.models.target import horizon_bars, realized_vol_target
    from crypto_mlops.models.zoo import BASELINES, make_model

    target = realized_vol_target(features["log_ret"], horizon_bars(bar_hours))
    # Same rule as the inference module: only origins with a full 30-day window and a known future.
    mask = np.isfinite(target.to_numpy(float)) & (np.arange(len(features)) >= bars(720, bar_hours))
    if mask.sum() < MIN_FIT_ORIGINS:
        raise ValueError(f"only {int(mask.sum())} origins to fit the baseline on")
    model = make_model(name if name in BASELINES else "har")
    model.fit(features, target, mask, bar_hours)
    return model


def _num(value: Any) -> float:
    """Float for the wire; NaN/inf (too few candles for a window) become 0 like the seed."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return _plain(value.reset_index().to_dict(orient="records"))
    if isinstance(value, pd.Timestamp):
        return iso_z(value)
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | np.integer):
        return int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


def _bars(frame: pd.DataFrame) -> list[OHLCVBar]:
    index = pd.DatetimeIndex(frame.index).as_unit("ms")  # the index may be s/ms/ns resolution
    times = index.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        OHLCVBar(ts=int(ms), open=o, high=h, low=lo, close=c, volume=v, time=t)
        for ms, t, o, h, lo, c, v in zip(
            index.asi8,
            times,
            frame["open"],
            frame["high"],
            frame["low"],
            frame["close"],
            frame["volume"],
            strict=True,
        )
    ]


def _features_tail(frame: pd.DataFrame, bar_hours: float, n: int = 5) -> list[FeatureRow]:
    from crypto_mlops.features import compute_features

    feats = compute_features(frame, bar_hours=bar_hours).iloc[-n:]
    return [
        FeatureRow(
            time=iso_z(ts) or "",
            close=_num(row["close"]) if "close" in row else _num(frame.loc[ts, "close"]),
            ret=_num(row.get("ret")),
            vol24=_num(row.get("vol24")),
            sma12=_num(row.get("sma12")),
            sma48=_num(row.get("sma48")),
            vol_per_hour=_num(row.get("vol_per_hour")),
        )
        for ts, row in feats.iterrows()
    ]
