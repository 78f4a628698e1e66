"""The stream processor's pure part: ticks in, predictions and alerts out (no Kafka here).

Per symbol it keeps a window of the last `window_size` candles (numpy arrays, `windows.py`). A batch
is handled per symbol, as whole arrays:
- the heuristic's four feature columns for the new candles (`heuristic_columns.py`, from the 600
  candles before them) and its formula on arrays;
- the model, once for all the new candles: from the window's kept feature rows extended by the new
  candles' rows (`model_rows.py`), else from the candles (`predict_rows`), else tick by tick;
- the alert rules, tested on arrays first (`AlertEngine.evaluate_batch`);
- one `codec.Prediction` per tick (msgspec struct, encoded by the consumer).
Features are causal (row t only sees candles <= t), and with a window longer than the longest feature
lookback (720 bars) the answer to a tick does not depend on how the ticks were batched, so a replay
after a crash gives the same signals under the same keys.

Ticks can be fed with `emit=False` to rebuild windows and alert state without answering them (the
consumer does that with the ticks just before its committed offset when it starts).
"""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.schema import timeframe_hours
from crypto_mlops.features.incremental import LOOKBACK
from crypto_mlops.models.contract import Predictor
from crypto_mlops.streaming.alerts import AlertEngine, RuleBatch
from crypto_mlops.streaming.codec import Alert, Prediction, PriceData
from crypto_mlops.streaming.heuristic_columns import HeuristicColumns as _HeuristicColumns
from crypto_mlops.streaming.heuristic_columns import heuristic_columns
from crypto_mlops.streaming.incoming import AnyTick, Incoming, iso_times, latencies_ms, rows_of
from crypto_mlops.streaming.model_rows import RowForecaster, incremental_answers
from crypto_mlops.streaming.windows import Rows, Window

log = logging.getLogger(__name__)

DEFAULT_WINDOW = 1500  # the history the API gives the model; > 720 (longest feature lookback)
HEURISTIC_LOOKBACK = 600  # bars before a batch's first new candle that its heuristic features are computed on
ML_MIN_BARS = 240  # models.inference.MIN_BARS: the model refuses shorter frames
FALLBACK_TIMEFRAME = "1h"

PredictorProvider = Callable[[], Predictor | None]


@dataclass
class Outputs:
    predictions: list[Prediction] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    stale: list[Incoming] = field(default_factory=list)  # event time not after the symbol's last one


def _timeframe(tick: AnyTick) -> str:
    return tick.timeframe or FALLBACK_TIMEFRAME


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


class StreamProcessor:
    def __init__(
        self,
        predictor: PredictorProvider | None = None,
        window_size: int = DEFAULT_WINDOW,
        alerts: AlertEngine | None = None,
        ml_min_bars: int = ML_MIN_BARS,
        *,
        pair_predictor: Callable[[str], Predictor | None] | None = None,  # the model serving each pair
    ) -> None:
        self.predictor = predictor
        self.pair_predictor = pair_predictor
        self.window_size = window_size
        self.alerts = alerts or AlertEngine()
        self.ml_min_bars = ml_min_bars
        self.windows: dict[str, Window] = {}
        self.ml_errors = 0
        self._should_stop: Callable[[], bool] | None = None

    @property
    def has_model(self) -> bool:
        """Whether ticks are answered with a model forecast too (else the heuristic only)."""
        return self.predictor is not None or self.pair_predictor is not None

    def _model_for(self, symbol: str) -> Predictor | None:
        if self.pair_predictor is not None:
            return self.pair_predictor(symbol)
        return None if self.predictor is None else self.predictor()

    def reset(self) -> None:
        """Forget every window and alert state: the next ticks (replayed with `emit=False` first) rebuild them.

        The consumer calls it when partitions are assigned again in the same process: it then re-reads from
        the committed offset, and windows that already moved past those ticks would skip them as stale,
        leaving ticks whose answers were never delivered unanswered."""
        self.windows.clear()
        self.alerts.reset()

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
    def _window_for(self, tick: AnyTick) -> Window:
        timeframe = _timeframe(tick)
        w = self.windows.get(tick.symbol)
        if w is None or w.timeframe != timeframe:  # a new timeframe starts a new window
            try:
                bar_hours = timeframe_hours(timeframe)
            except InvalidInput:
                bar_hours = timeframe_hours(FALLBACK_TIMEFRAME)
            w = Window(timeframe, bar_hours, self.window_size)
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
        prior = len(w)
        rows = w.rows.then(rows_of(fresh))
        # The heuristic's columns look back at most 48 bars, and RSI's exponential smoothing forgets
        # (13/14)^600 < 1e-19 of what lies further back: features of the tail equal those of the window.
        start = max(0, prior - HEURISTIC_LOOKBACK)
        predictor = self._model_for(symbol) if any(i.emit for i in fresh) else None
        # Candle times that disagree with event order (a producer bug): keep the last candle per time.
        ordered = rows if rows.increasing_from(0 if predictor else start) else _deduplicated(rows)
        positions = np.minimum(np.arange(prior, prior + len(fresh)), len(ordered) - 1).tolist()
        first = positions[0]  # positions only grow: the heuristic needs the rows from the first one on
        columns = heuristic_columns(ordered.ohlcv[start:, 3], w.bar_hours, n=len(ordered) - first)
        features = _HeuristicColumns(columns, first)
        batched, kept = self._ml_rows(fresh, positions, ordered, rows, prior, w, predictor)
        self._answer(symbol, fresh, positions, features, ordered, batched, predictor, out)
        w.keep(rows, kept)
        w.last_event = fresh[-1].tick.timestamp

    def _answer(
        self,
        symbol: str,
        fresh: list[Incoming],
        positions: list[int],
        features: _HeuristicColumns,
        ordered: Rows,
        batched: dict[int, dict[str, Any]],
        predictor: Predictor | None,
        out: Outputs,
    ) -> None:
        """Heuristic, model and alert rules for every fresh tick; messages for those to emit."""
        n_bars = [min(pos + 1, self.window_size) for pos in positions]
        heuristics = features.signals(positions, n_bars)
        if not self.has_model:  # the heuristic only: no model fields
            mls: list[dict[str, Any] | None] = [None] * len(fresh)
        else:
            mls = self._model_answers(fresh, positions, ordered, batched, predictor)
        ticks = [i.tick for i in fresh]
        stamps = [t.timestamp for t in ticks]
        no_model: list[float | None] = [None] * len(ticks)
        evaluations = self.alerts.evaluate_batch(
            symbol,
            RuleBatch(
                event_time=stamps,
                change_24h=[t.change_24h for t in ticks],
                vol_regime=[h.vol_regime for h in heuristics],
                rsi14=[h.rsi14 for h in heuristics],
                predicted_volatility=[_finite(m.get("predicted_volatility")) if m else None for m in mls]
                if any(mls)
                else no_model,
                current_volatility=[_finite(m.get("current_volatility")) if m else None for m in mls]
                if any(mls)
                else no_model,
            ),
        )
        times = iso_times(stamps)
        now, done, now_ms = datetime.now(UTC), time.perf_counter(), time.time() * 1000.0
        in_consumer, from_broker = latencies_ms(fresh, done, now_ms)
        cooldown_s = self.alerts.thresholds.cooldown / timedelta(seconds=1)
        for item, tick, heuristic, ml, evaluation, bars, iso, consumer_ms, broker_ms in zip(
            fresh, ticks, heuristics, mls, evaluations, n_bars, times, in_consumer, from_broker, strict=True
        ):
            if not item.emit:
                continue
            if evaluation is not None:
                for rule, anomaly in evaluation.alerts:
                    out.alerts.append(
                        Alert(
                            alert_id=f"{tick.symbol}@{rule}@{iso}",
                            rule=rule,
                            symbol=tick.symbol,
                            timestamp=tick.timestamp,
                            anomaly=anomaly,
                            cooldown_s=cooldown_s,
                        )
                    )
            out.predictions.append(
                Prediction(
                    symbol=tick.symbol,
                    timestamp=tick.timestamp,
                    event_key=f"{tick.symbol}@{iso}",  # tick.event_key, its time formatted per run
                    source=tick.source,
                    candle_time=tick.candle.open_time if tick.candle else None,
                    price_data=PriceData.of(tick),
                    heuristic_signal=heuristic,
                    ml_prediction=ml,
                    anomalies=list(evaluation.anomalies) if evaluation is not None else [],
                    window_size=bars,
                    processing_latency_ms=consumer_ms,
                    processed_at=now,
                    source_offset=item.ref,
                    broker_latency_ms=broker_ms,
                )
            )

    def _model_answers(
        self,
        fresh: list[Incoming],
        positions: list[int],
        ordered: Rows,
        batched: dict[int, dict[str, Any]],
        predictor: Predictor | None,
    ) -> list[dict[str, Any] | None]:
        """The batched answer of each tick, else one model call for it (or why there is none)."""
        frame: list[pd.DataFrame] = []  # built once, only if a tick needs the model on its own
        mls: list[dict[str, Any] | None] = []
        for item, pos in zip(fresh, positions, strict=True):
            ml = batched.get(pos)
            if ml is None and item.emit:
                if predictor is not None and not frame:
                    frame.append(ordered.frame())
                ml = self._ml(item.tick, frame[0] if frame else None, pos, predictor)
            mls.append(ml)
        return mls

    def _ml_rows(
        self,
        fresh: list[Incoming],
        positions: list[int],
        ordered: Rows,
        rows: Rows,
        prior: int,
        w: Window,
        predictor: Predictor | None,
    ) -> tuple[dict[int, dict[str, Any]], np.ndarray | None]:
        """One model call for a batch's eligible ticks (emitted, with enough history), and the window's
        feature rows when they were kept up to date.

        When they are the last candles: a `RowForecaster` gets the window's feature rows, extended by the
        new candles' rows only (model_rows.py); another predictor gets `predict_rows(frame, n)`, which
        computes the features once. If either fails, each tick is predicted on its own.
        """
        if predictor is None:
            return {}, None
        eligible = [
            p
            for i, p in zip(fresh, positions, strict=True)
            if i.emit and min(p + 1, self.window_size) >= self.ml_min_bars
        ]
        if not eligible or eligible != list(range(len(ordered) - len(eligible), len(ordered))):
            return {}, None
        source = fresh[-1].tick.source
        if ordered is rows and isinstance(predictor, RowForecaster) and self.window_size >= 2 * LOOKBACK:
            if self._should_stop is not None and self._should_stop():
                raise BatchInterrupted
            try:
                answered = incremental_answers(w, rows, prior, len(eligible), self.window_size, predictor, source)
            except Exception as exc:  # the frame path below reports errors per tick
                log.warning("model prediction from kept features failed (%s); using the candles", exc)
                answered = None
            if answered is not None:
                return dict(zip(eligible, answered[0], strict=True)), answered[1]
        if len(eligible) < 2:
            return {}, None
        frame = ordered.frame()
        start = max(0, len(frame) - self.window_size - len(eligible) + 1)
        try:
            answers = predictor.predict_rows(frame.iloc[start:], source=source, bar_hours=w.bar_hours, n=len(eligible))
        except Exception as exc:  # fall back to one call per tick, which reports errors per tick
            log.warning("batched model prediction failed (%s); predicting tick by tick", exc)
            return {}, None
        return {pos: _plain_prediction(a) for pos, a in zip(eligible, answers, strict=True)}, None

    def _ml(
        self, tick: AnyTick, frame: pd.DataFrame | None, pos: int, predictor: Predictor | None
    ) -> dict[str, Any] | None:
        if predictor is None or frame is None:  # the frame is built whenever there is a predictor
            return {"error": "model unavailable"} if self.has_model else None
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


def _deduplicated(rows: Rows) -> Rows:
    """The candles sorted by time, the last one kept per time (what the frame path gives the model)."""
    frame = rows.frame()
    return Rows(frame.index.as_unit("ns").asi8, frame.to_numpy(dtype=float))
