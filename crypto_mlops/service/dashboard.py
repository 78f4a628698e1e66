"""The dashboard's series: candles with the heuristic regime per bar, predicted vs realized RV24 at past origins."""

from __future__ import annotations

import math

import numpy as np

from crypto_mlops.models.contract import Predictor
from crypto_mlops.service.forecasts import path_forecasts, predict_origins
from crypto_mlops.service.market import Market
from crypto_mlops.service.memo import LruMemo
from crypto_mlops.service.pair_models import PairModels
from crypto_mlops.service.results import ChartSeries, VolatilityPoint, iso_z
from crypto_mlops.service.wire import num, ohlcv_bars

MAX_SLOW_ORIGINS = 8
ORIGIN_MEMO_SIZE = 5000
MODEL_HISTORY_BARS = 1000  # history the baseline needs to fit HAR on the frame itself

OriginKey = tuple[object, ...]  # (cache key, model name, version, type, origin candle time)


class Dashboard:
    def __init__(self, models: PairModels) -> None:
        self.models = models
        # Forecast per (key, model, origin candle): past origins never change, so each is computed once.
        self._origins: LruMemo[OriginKey, float] = LruMemo(ORIGIN_MEMO_SIZE)

    def forget_forecasts(self, _predictor: Predictor, _fallback: bool) -> None:
        """Model-change subscriber: forecasts of the previous model are not drawn again."""
        self._origins.clear()

    def chart(self, m: Market, points: int) -> ChartSeries:
        """`m`'s candles with the heuristic regime per bar, and predicted vs realized RV24 at `points` origins."""
        from crypto_mlops.features import compute_features
        from crypto_mlops.signals import vol_regime

        served = self.models.serve(m.key.symbol)
        predictor = served.predictor
        feats = compute_features(m.data.frame, bar_hours=m.data.bar_hours).iloc[-m.limit :]
        vph = feats["vol_per_hour"]
        regimes = [vol_regime(float(v)) if np.isfinite(v) else "unknown" for v in vph]
        series = self._vol_series(m, predictor, points)
        return ChartSeries(
            symbol=m.key.symbol,
            timeframe=m.key.timeframe,
            candles=ohlcv_bars(m.frame),
            regimes=regimes,
            vol_per_hour=[float(v) if np.isfinite(v) else None for v in vph],
            volatility=series,
            model_version=str(predictor.model_version),
            model_type=str(predictor.model_type),
            model_name=str(predictor.model_name),
            model_alias=served.alias,
            source=m.data.source,
            candle_time=m.candle_time,
        )

    def _vol_series(self, m: Market, predictor: Predictor, points: int) -> list[VolatilityPoint]:
        frame = m.data.frame
        log_ret = np.log(frame["close"]).diff().to_numpy()
        horizon = max(1, round(24 / m.data.bar_hours))
        n = len(frame)
        # Origins on a grid anchored at the latest candle (so that they are reused across requests),
        # spread over the visible window; the last one is the latest candle (realized unknown).
        first = max(n - m.limit, min(MODEL_HISTORY_BARS, n - 1))
        step = max(1, math.ceil((n - first) / points))
        origins = sorted(range(n - 1, first - 1, -step))[-points:]
        known = self._forecasts(m, predictor, origins)
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

    def _forecasts(self, m: Market, predictor: Predictor, origins: list[int]) -> dict[int, float | None]:
        """Forecast per origin index: memoized ones, then the missing ones in one pass (or the latest few)."""
        frame = m.data.frame
        model_id = (m.key, str(predictor.model_name), str(predictor.model_version), str(predictor.model_type))

        def key(i: int) -> OriginKey:
            return (*model_id, frame.index[i])

        stored = self._origins.get_many(key(i) for i in origins)
        known = {i: stored[key(i)] for i in origins}
        missing = [i for i, v in known.items() if v is None]
        if missing:
            fast = path_forecasts(predictor, frame, missing, m.data.bar_hours)
            if fast is None:
                # Origin by origin is a full prediction each: only the latest few.
                latest = missing[-MAX_SLOW_ORIGINS:]
                fresh = predict_origins(predictor, frame, latest, m.data.source, m.data.bar_hours)
                fast = {i: num(p.predicted_rv_24h) for i, p in zip(latest, fresh, strict=True) if p is not None}
            known.update(fast)
            self._origins.put_many((key(i), value) for i, value in fast.items())
        return known
