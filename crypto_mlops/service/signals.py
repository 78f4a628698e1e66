"""Heuristic and ML signals on one request's candles, their comparison, and the memo that computes each once.

Results are a function of (candle fetch, model), so they are memoized per fetch (`SIGNAL_MEMO=0` turns
that off); the facade still counts and records every request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import TypeVar, cast

import pandas as pd

from crypto_mlops.config import Settings
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.models.contract import Predictor
from crypto_mlops.service.market import Market, Markets, ResultOrigin
from crypto_mlops.service.memo import LruMemo
from crypto_mlops.service.pair_models import PairModels
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
)
from crypto_mlops.service.wire import num, plain

log = logging.getLogger(__name__)

RESULT_MEMO_SIZE = 512
# MLPredictionOut fields that CompareML repeats under the same name (its `vol_regime` is `volatility_regime`).
_COMPARED_ML_FIELDS = {
    "predicted_volatility",
    "predicted_rv_24h",
    "confidence",
    "risk_level",
    "model_version",
    "model_type",
    "model_name",
    "model_alias",
}
T = TypeVar("T")


class Signals:
    """Signals on candles already resolved by `Markets` (the facade resolves, computes, then records)."""

    def __init__(self, settings: Settings, markets: Markets, models: PairModels) -> None:
        self.settings = settings
        self.markets = markets
        self.models = models
        self._results: LruMemo[tuple[Hashable, ...], object] = LruMemo(RESULT_MEMO_SIZE)
        self._origins: LruMemo[tuple[Hashable, ...], ResultOrigin] = LruMemo(RESULT_MEMO_SIZE)

    def ml(self, m: Market, include_heuristic: bool, exchange: str | None) -> MLSignalResult:
        """The model's forecast on `m`, with the heuristic on the same candles when asked."""
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
        return MLSignalResult(
            **self._origin(m, exchange),
            timestamp=now_z(),
            model_version=ml.model_version,
            model_name=ml.model_name,
            model_alias=ml.model_alias,
            ml_prediction=ml,
            heuristic_comparison=comparison,
        )

    def compare(self, m: Market, exchange: str | None) -> CompareResult:
        """Heuristic and ML on the same candles; not stored, like the seed."""
        h = self.heuristic(m, 60, False, exchange)
        ml = self.predict(m)
        return CompareResult(
            **self._origin(m, exchange),
            timestamp=now_z(),
            heuristic=CompareHeuristic(
                risk_score=h.risk_score, vol_regime=h.vol_regime, volatility=h.vol, risk_level=h.risk_level
            ),
            ml=CompareML(**ml.model_dump(include=_COMPARED_ML_FIELDS), vol_regime=ml.volatility_regime),
            comparison=CompareDetail(
                volatility_diff=ml.predicted_volatility - h.vol,
                regime_agreement=ml.volatility_regime == h.vol_regime,
                risk_level_agreement=ml.risk_level == h.risk_level,
                ml_confidence=ml.confidence,
            ),
        )

    def heuristic(self, m: Market, horizon_min: int, explain: bool, exchange: str | None) -> SignalResult:
        """The heuristic risk signal on `m`'s slice, with its inputs and last feature rows when `explain`."""
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
            **self._origin(m, exchange),
            horizon_min=horizon_min,
            risk_score=round(num(h.risk_score), 4),
            nowcast_ret=round(num(h.nowcast_ret), 6),
            vol_regime=h.vol_regime,
            explain=explanation,
            vol=num(h.vol),
            momentum=int(h.momentum),
            risk_level=h.risk_level,
            timestamp=now_z(),
        )

    def predict(self, m: Market, predictor: Predictor | None = None) -> MLPredictionOut:
        """The forecast of the model serving `m`'s pair (`PairModels.serve`), or of `predictor` when given."""
        if predictor is None:
            served = self.models.serve(m.key.symbol)
            predictor, alias = served.predictor, served.alias
        else:
            alias = str(getattr(predictor, "model_alias", ""))
        model_id = (id(predictor), str(predictor.model_version), str(predictor.model_type), alias)
        chosen = predictor
        return self._memo(("ml", m.key, m.fetch_id, model_id), lambda: _predict_now(m, chosen, alias))

    def _origin(self, m: Market, exchange: str | None) -> ResultOrigin:
        """`Markets.origin`, once per candle fetch: formatting the candle time is pandas work."""
        key = (m.key, m.fetch_id, exchange, self.settings.exchange)
        return self._origins.get_or_compute(key, lambda: self.markets.origin(m, exchange))

    def _memo(self, key: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
        """Results are a function of (candles fetch, model): compute once per candle fetch, not per request."""
        if not self.settings.signal_memo:
            return compute()
        return cast(T, self._results.get_or_compute(key, compute))


def now_z() -> str:
    """`iso_z(utc_now())` without pandas: a cached answer's only per-request timestamp."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _predict_now(m: Market, predictor: Predictor, alias: str) -> MLPredictionOut:
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
        model_alias=alias,
        prediction_timestamp=iso_z(pd.Timestamp(p.prediction_timestamp)) or m.candle_time,
        source=str(p.source or m.data.source),
        rv_24h_q10=p.rv_24h_q10,
        rv_24h_q50=p.rv_24h_q50,
        rv_24h_q90=p.rv_24h_q90,
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
