"""The stream processor's pure part: ticks in, predictions and alerts out (no Kafka here).

Per symbol it keeps a window of the last `window_size` candles. A batch is handled per symbol: the new
candles are appended to the window, the shared feature function runs once over the window, and every
new tick is answered from its own row (features are causal, so row t only sees candles <= t). With a
window longer than the longest feature lookback (720 bars), the answer to a tick does not depend on how
the ticks were batched, so a replay after a crash gives the same signals under the same keys.

Ticks can be fed with `emit=False` to rebuild windows and alert state without answering them (the
consumer does that with the ticks just before its committed offset when it starts).
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.schema import timeframe_hours
from crypto_mlops.models.contract import Predictor
from crypto_mlops.signals.heuristic import MIN_BARS, risk_level, risk_score, vol_regime
from crypto_mlops.streaming.alerts import AlertEngine, RuleInput
from crypto_mlops.streaming.heuristic_columns import Columns, heuristic_columns
from crypto_mlops.streaming.schemas import (
    AlertMessage,
    HeuristicFields,
    PredictionMessage,
    PriceData,
    PriceTick,
    utc_iso,
)

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 1500  # the history the API gives the model; > 720 (longest feature lookback)
HEURISTIC_LOOKBACK = 600  # bars before a batch's first new candle that its heuristic features are computed on
ML_MIN_BARS = 240  # models.inference.MIN_BARS: the model refuses shorter frames
FALLBACK_TIMEFRAME = "1h"


PredictorProvider = Callable[[], Predictor | None]


@dataclass
class Incoming:
    tick: PriceTick
    ref: str  # "topic/partition/offset"
    received: float = field(default_factory=time.perf_counter)  # perf_counter when consumed
    emit: bool = True
    broker_ms: int | None = None  # the message's broker timestamp (epoch ms), when it has one


@dataclass
class Outputs:
    predictions: list[PredictionMessage] = field(default_factory=list)
    alerts: list[AlertMessage] = field(default_factory=list)
    stale: list[Incoming] = field(default_factory=list)  # event time not after the symbol's last one


@dataclass
class _Window:
    timeframe: str
    bar_hours: float
    size: int
    rows: deque[tuple[pd.Timestamp, float, float, float, float, float]] = field(init=False)
    last_event: datetime | None = None

    def __post_init__(self) -> None:
        self.rows = deque(maxlen=self.size)


def _timeframe(tick: PriceTick) -> str:
    return tick.timeframe or FALLBACK_TIMEFRAME


def _candle_row(tick: PriceTick) -> tuple[pd.Timestamp, float, float, float, float, float]:
    c = tick.candle
    if c is None:  # a plain ticker tick: a point candle at its event time
        return (pd.Timestamp(tick.timestamp), tick.price, tick.price, tick.price, tick.price, 0.0)
    return (pd.Timestamp(c.open_time), c.open, c.high, c.low, c.close, c.volume)


def _frame(rows: Sequence[tuple[pd.Timestamp, float, float, float, float, float]]) -> pd.DataFrame:
    index = pd.DatetimeIndex([r[0] for r in rows], name="timestamp")
    if index.tz is None:
        index = index.tz_localize(UTC)
    data = [r[1:] for r in rows]
    return pd.DataFrame(data, index=index, columns=["open", "high", "low", "close", "volume"], dtype=float)


def _increasing(rows: Sequence[tuple[pd.Timestamp, float, float, float, float, float]], start: int) -> bool:
    """Candle times strictly increasing from `start` on (no duplicate, no step back)."""
    return all(a[0] < b[0] for a, b in zip(rows[start:], rows[start + 1 :], strict=False))


def _since_ms(epoch_ms: int | None) -> float | None:
    """Wall-clock milliseconds since `epoch_ms` (never negative: clocks of producer and consumer differ)."""
    if epoch_ms is None:
        return None
    return round(max(0.0, time.time() * 1000.0 - epoch_ms), 3)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _stable(value: float) -> float:
    """Round away the last bits that differ with the window's start (rolling sums): replays match."""
    return float(f"{value:.10g}")


def _plain_prediction(prediction: Any) -> dict[str, Any]:
    if isinstance(prediction, BaseModel):
        out = prediction.model_dump(mode="json")
    elif isinstance(prediction, dict):
        out = dict(prediction)
    else:
        out = dict(vars(prediction))
    plain: dict[str, Any] = {}
    for key, value in out.items():
        if isinstance(value, float):
            number = _finite(value)
            plain[key] = None if number is None else _stable(number)
        else:
            plain[key] = value
    return plain


class BatchInterrupted(Exception):
    """A stop was requested mid-batch; the processor's state is then undefined (discard it)."""


class _HeuristicColumns:
    """The heuristic of SPEC §4 (signals.heuristic's formula and thresholds) read from numpy columns.

    `signals.heuristic_from_features` answers for the last row of a frame; slicing a DataFrame per tick
    costs milliseconds, so the consumer reads the same columns as arrays (a test checks both agree).
    """

    def __init__(self, features: pd.DataFrame | Columns, offset: int = 0) -> None:
        self.offset = offset  # frame position of the features' first row (they may cover a tail only)
        self.vol = np.asarray(features["vol_per_hour"], dtype=float)
        self.momentum = np.asarray(features["momentum"], dtype=float)
        self.ret = np.asarray(features["ret"], dtype=float)
        self.rsi = np.asarray(features["rsi14"], dtype=float)

    def signal(self, pos: int, n_bars: int) -> HeuristicFields:
        if n_bars < MIN_BARS:
            return HeuristicFields(error=f"warming up: {n_bars}/{MIN_BARS} candles")
        pos -= self.offset
        vol = _finite(self.vol[pos]) or 0.0
        momentum = int(_finite(self.momentum[pos]) or 0.0)
        score = risk_score(vol, momentum)
        rsi = _finite(self.rsi[pos])
        return HeuristicFields(
            risk_score=round(score, 4),
            risk_level=risk_level(score),
            vol_regime=vol_regime(vol),
            vol=_stable(vol),
            nowcast_ret=round(_finite(self.ret[pos]) or 0.0, 6),
            momentum=momentum,
            rsi14=None if rsi is None else _stable(rsi),
        )


class StreamProcessor:
    def __init__(
        self,
        predictor: PredictorProvider | None = None,
        window_size: int = DEFAULT_WINDOW,
        alerts: AlertEngine | None = None,
        ml_min_bars: int = ML_MIN_BARS,
    ) -> None:
        self.predictor = predictor
        self.window_size = window_size
        self.alerts = alerts or AlertEngine()
        self.ml_min_bars = ml_min_bars
        self.windows: dict[str, _Window] = {}
        self.ml_errors = 0
        self._should_stop: Callable[[], bool] | None = None

    def window_length(self, symbol: str) -> int:
        w = self.windows.get(symbol)
        return len(w.rows) if w else 0

    def process(self, batch: Sequence[Incoming], should_stop: Callable[[], bool] | None = None) -> Outputs:
        """Answer a batch. `should_stop` is checked before each model call: a slow batch can be abandoned
        (BatchInterrupted) so that shutdown does not wait for it; its ticks stay uncommitted."""
        self._should_stop = should_stop
        out = Outputs()
        by_symbol: dict[str, list[Incoming]] = defaultdict(list)
        for item in batch:
            by_symbol[item.tick.symbol].append(item)
        for symbol, items in by_symbol.items():
            # Consecutive runs of one timeframe; a new timeframe starts a new window for the symbol.
            run = [items[0]]
            for item in items[1:]:
                if _timeframe(item.tick) == _timeframe(run[-1].tick):
                    run.append(item)
                else:
                    self._process_symbol(symbol, run, out)
                    run = [item]
            self._process_symbol(symbol, run, out)
        return out

    # -- internals ----------------------------------------------------------------------------
    def _window_for(self, tick: PriceTick) -> _Window:
        timeframe = _timeframe(tick)
        w = self.windows.get(tick.symbol)
        if w is None or w.timeframe != timeframe:  # a new timeframe starts a new window
            try:
                bar_hours = timeframe_hours(timeframe)
            except InvalidInput:
                bar_hours = timeframe_hours(FALLBACK_TIMEFRAME)
            w = _Window(timeframe, bar_hours, self.window_size)
            self.windows[tick.symbol] = w
        return w

    def _process_symbol(self, symbol: str, items: list[Incoming], out: Outputs) -> None:
        fresh: list[Incoming] = []
        w = self._window_for(items[0].tick)
        last_event = w.last_event
        for item in items:
            if last_event is not None and item.tick.timestamp <= last_event:
                out.stale.append(item)
                continue
            last_event = item.tick.timestamp
            fresh.append(item)
        if not fresh:
            return
        prior = len(w.rows)
        rows = list(w.rows) + [_candle_row(i.tick) for i in fresh]
        # The heuristic's columns look back at most 48 bars, and RSI's exponential smoothing forgets
        # (13/14)^600 < 1e-19 of what lies further back: features of the tail equal those of the window.
        start = max(0, prior - HEURISTIC_LOOKBACK)
        predictor = self.predictor() if (self.predictor and any(i.emit for i in fresh)) else None
        frame: pd.DataFrame | None = None
        if predictor is None and _increasing(rows, start):
            # Heuristic only, candles in order: no DataFrame needed, the closes are enough.
            closes = np.fromiter((r[4] for r in rows[start:]), dtype=float, count=len(rows) - start)
            n_rows = len(rows)
        else:
            frame = _frame(rows)
            if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
                # Candle times disagree with event order (a producer bug): keep the last candle per time.
                frame = frame[~frame.index.duplicated(keep="last")].sort_index()
            closes = frame["close"].to_numpy(float)[start:]
            n_rows = len(frame)
        features = _HeuristicColumns(heuristic_columns(closes, w.bar_hours), start)
        positions = [min(prior + n, n_rows - 1) for n in range(len(fresh))]
        batched = self._ml_rows(fresh, positions, frame, w, predictor)
        for item, pos in zip(fresh, positions, strict=True):
            self._answer(item, w, frame, features, pos, predictor, out, batched.get(pos))
        w.rows.extend(rows[prior:])
        w.last_event = fresh[-1].tick.timestamp

    def _answer(
        self,
        item: Incoming,
        w: _Window,
        frame: pd.DataFrame | None,
        features: _HeuristicColumns,
        pos: int,
        predictor: Predictor | None,
        out: Outputs,
        batched_ml: dict[str, Any] | None = None,
    ) -> None:
        tick = item.tick
        n_bars = min(pos + 1, self.window_size)
        heuristic = features.signal(pos, n_bars)
        ml = batched_ml if batched_ml is not None else (self._ml(tick, frame, pos, predictor) if item.emit else None)
        evaluation = self.alerts.evaluate(
            RuleInput(
                symbol=tick.symbol,
                event_time=tick.timestamp,
                change_24h=tick.change_24h,
                vol_regime=heuristic.vol_regime,
                rsi14=heuristic.rsi14,
                predicted_volatility=_finite((ml or {}).get("predicted_volatility")),
                current_volatility=_finite((ml or {}).get("current_volatility")),
            )
        )
        if not item.emit:
            return
        now = datetime.now(UTC)
        for rule, anomaly in evaluation.alerts:
            out.alerts.append(
                AlertMessage(
                    alert_id=f"{tick.symbol}@{rule}@{utc_iso(tick.timestamp)}",
                    rule=rule,
                    symbol=tick.symbol,
                    timestamp=tick.timestamp,
                    anomaly=anomaly,
                    cooldown_s=self.alerts.thresholds.cooldown / timedelta(seconds=1),
                )
            )
        out.predictions.append(
            PredictionMessage(
                symbol=tick.symbol,
                timestamp=tick.timestamp,
                event_key=tick.event_key,
                source=tick.source,
                candle_time=tick.candle.open_time if tick.candle else None,
                price_data=PriceData(
                    price=tick.price,
                    volume_24h=tick.volume_24h,
                    change_24h=tick.change_24h,
                    high_24h=tick.high_24h,
                    low_24h=tick.low_24h,
                    volatility=tick.volatility,
                    trend=tick.trend,
                    source=tick.source,
                ),
                heuristic_signal=heuristic,
                ml_prediction=ml,
                anomalies=evaluation.anomalies,
                window_size=n_bars,
                processing_latency_ms=round((time.perf_counter() - item.received) * 1000.0, 3),
                processed_at=now,
                source_offset=item.ref,
                broker_latency_ms=_since_ms(item.broker_ms),
            )
        )

    def _ml_rows(
        self,
        fresh: list[Incoming],
        positions: list[int],
        frame: pd.DataFrame | None,
        w: _Window,
        predictor: Predictor | None,
    ) -> dict[int, dict[str, Any]]:
        """One model call for a batch's eligible ticks (emitted, with enough history).

        When they are the last rows of the frame, `predict_rows(frame, source, bar_hours, n)` computes the
        features once and answers the last n rows; if it fails, each tick is predicted on its own.
        """
        eligible = [
            p
            for i, p in zip(fresh, positions, strict=True)
            if i.emit and min(p + 1, self.window_size) >= self.ml_min_bars
        ]
        if predictor is None or frame is None or len(eligible) < 2:
            return {}
        if eligible != list(range(len(frame) - len(eligible), len(frame))):
            return {}
        start = max(0, len(frame) - self.window_size - len(eligible) + 1)
        try:
            answers = predictor.predict_rows(
                frame.iloc[start:], source=fresh[-1].tick.source, bar_hours=w.bar_hours, n=len(eligible)
            )
        except Exception as exc:  # fall back to one call per tick, which reports errors per tick
            log.warning("batched model prediction failed (%s); predicting tick by tick", exc)
            return {}
        return {pos: _plain_prediction(a) for pos, a in zip(eligible, answers, strict=True)}

    def _ml(
        self, tick: PriceTick, frame: pd.DataFrame | None, pos: int, predictor: Predictor | None
    ) -> dict[str, Any] | None:
        if predictor is None or frame is None:  # the frame is built whenever there is a predictor
            return None if self.predictor is None else {"error": "model unavailable"}
        n_bars = min(pos + 1, self.window_size)
        if n_bars < self.ml_min_bars:
            return {"error": f"warming up: {n_bars}/{self.ml_min_bars} candles"}
        if self._should_stop is not None and self._should_stop():
            raise BatchInterrupted
        window = frame.iloc[max(0, pos + 1 - self.window_size) : pos + 1]
        try:
            prediction = predictor.predict(
                window, source=tick.source, bar_hours=timeframe_hours(tick.timeframe or FALLBACK_TIMEFRAME)
            )
        except Exception as exc:  # a model failure must not stop the stream; it is reported per tick
            self.ml_errors += 1
            if self.ml_errors <= 5:
                log.warning("model prediction failed for %s: %s", tick.symbol, exc)
            return {"error": f"{type(exc).__name__}: {exc}"[:300]}
        return _plain_prediction(prediction)
