"""Heuristic and ML signals on one request's candles, their comparison, and the memo that computes each once.

Results are a function of (candle fetch, model), so they are memoized per fetch (`SIGNAL_MEMO=0` turns
that off); requests are still counted and recorded one by one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from typing import TypeVar, cast

import pandas as pd

from crypto_mlops.config import Settings
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.service.limits import MAX_HORIZON_MIN, check_range
from crypto_mlops.service.market import Market, Markets
from crypto_mlops.service.memo import LruMemo
from crypto_mlops.service.model_holder import ModelHolder, PredictorLike
from crypto_mlops.service.recording import Recorder
from crypto_mlops.service.results import (
    CompareDetail,
    CompareHeuristic,
    CompareML,
    CompareResult,
    FeatureRow,
    HeuristicComparison,
    MLPredictionOut,
    MLSignalResult,
    MLVsHeuristic,
    SignalExplanation,
    SignalResult,
    iso_z,
    utc_now,
)
from crypto_mlops.service.wire import num, plain

log = logging.getLogger(__name__)

RESULT_MEMO_SIZE = 512
T = TypeVar("T")


class Signals:
    def __init__(self, settings: Settings, markets: Markets, models: ModelHolder, recorder: Recorder) -> None:
        self.settings = settings
        self.markets = markets
        self.models = models
        self.recorder = recorder
        self._results: LruMemo[tuple[Hashable, ...], object] = LruMemo(RESULT_MEMO_SIZE)

    # -- requests -------------------------------------------------------------------------------
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
        m = self.markets.market(symbol, timeframe, limit, exchange)
        result = self.heuristic(m, horizon_min, explain, exchange)
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
        m = self.markets.market(symbol, timeframe, limit, exchange)
        ml = self.predict(m)
        comparison = None
        if include_heuristic:
            h = self.heuristic(m, 60, False, exchange)
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
            exchange=self.markets.exchange_name(exchange),
            timeframe=m.key.timeframe,
        )
        if record:
            self.recorder.ml_prediction(result, adapter)
        return result

    def compare(
        self, symbol: str | None, timeframe: str | None = None, limit: int = 200, exchange: str | None = None
    ) -> CompareResult:
        """Heuristic and ML on the same candles (fetched once); not stored, like the seed."""
        m = self.markets.market(symbol, timeframe, limit, exchange)
        h = self.heuristic(m, 60, False, exchange)
        ml = self.predict(m)
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
            exchange=self.markets.exchange_name(exchange),
            timeframe=m.key.timeframe,
        )

    # -- on resolved candles ---------------------------------------------------------------------
    def heuristic(self, m: Market, horizon_min: int, explain: bool, exchange: str | None) -> SignalResult:
        from crypto_mlops.signals import heuristic_signal

        h = self._memo(
            ("heuristic", m.key, m.fetch_id, m.limit, explain),
            lambda: heuristic_signal(m.frame, bar_hours=m.data.bar_hours, explain=explain),
        )
        explanation = None
        if explain:
            tail = self._memo(
                ("features_tail", m.key, m.fetch_id, m.limit), lambda: features_tail(m.frame, m.data.bar_hours)
            )
            explanation = SignalExplanation(
                nowcast_ret=num(h.nowcast_ret),
                vol=num(h.vol),
                vol_regime=h.vol_regime,
                risk_score=num(h.risk_score),
                momentum=int(h.momentum),
                inputs={str(k): plain(v) for k, v in h.explain.items()} if isinstance(h.explain, dict) else {},
                features_tail=tail,
            )
        return SignalResult(
            symbol=m.key.symbol,
            horizon_min=horizon_min,
            risk_score=round(num(h.risk_score), 4),
            nowcast_ret=round(num(h.nowcast_ret), 6),
            vol_regime=h.vol_regime,
            explain=explanation,
            vol=num(h.vol),
            momentum=int(h.momentum),
            risk_level=h.risk_level,
            timestamp=iso_z(utc_now()) or "",
            source=m.data.source,
            candle_time=m.candle_time,
            exchange=self.markets.exchange_name(exchange),
            timeframe=m.key.timeframe,
        )

    def predict(self, m: Market, predictor: PredictorLike | None = None) -> MLPredictionOut:
        predictor = predictor or self.models.get()
        model_id = (id(predictor), str(predictor.model_version), str(predictor.model_type))
        return self._memo(("ml", m.key, m.fetch_id, model_id), lambda: _predict_now(m, predictor))

    def _memo(self, key: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
        """Results are a function of (candles fetch, model): compute once per candle fetch, not per request."""
        if not self.settings.signal_memo:
            return compute()
        return cast(T, self._results.get_or_compute(key, compute))


def _predict_now(m: Market, predictor: PredictorLike) -> MLPredictionOut:
    # The model sees the whole cached history (its features need long windows), not just `limit`.
    try:
        p = predictor.predict(m.data.frame, source=m.data.source, bar_hours=m.data.bar_hours)
    except (InvalidInput, DataUnavailable):
        raise
    except Exception as exc:
        raise DataUnavailable(
            f"model {predictor.model_type} v{predictor.model_version} could not predict: {exc}"
        ) from exc
    return MLPredictionOut(
        prediction=num(p.predicted_volatility),
        predicted_rv_24h=num(p.predicted_rv_24h),
        predicted_volatility=num(p.predicted_volatility),
        current_volatility=num(p.current_volatility),
        volatility_regime=p.volatility_regime,
        risk_level=p.risk_level,
        confidence=num(p.confidence),
        model_name=str(p.model_name),
        model_version=str(p.model_version),
        model_type=str(p.model_type),
        prediction_timestamp=iso_z(pd.Timestamp(p.prediction_timestamp)) or m.candle_time,
        source=str(p.source or m.data.source),
    )


def features_tail(frame: pd.DataFrame, bar_hours: float, n: int = 5) -> list[FeatureRow]:
    from crypto_mlops.features import compute_features

    feats = compute_features(frame, bar_hours=bar_hours).iloc[-n:]
    return [
        FeatureRow(
            time=iso_z(ts) or "",
            close=num(row["close"]) if "close" in row else num(frame.loc[ts, "close"]),
            ret=num(row.get("ret")),
            vol24=num(row.get("vol24")),
            sma12=num(row.get("sma12")),
            sma48=num(row.get("sma48")),
            vol_per_hour=num(row.get("vol_per_hour")),
        )
        for ts, row in feats.iterrows()
    ]
