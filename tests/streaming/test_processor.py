"""The stream processor without Kafka: answers, keys, windows, batching, model errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pytest

from crypto_mlops.streaming.processor import Incoming, StreamProcessor
from crypto_mlops.streaming.sources import simulate_ticks
from tests.streaming.helpers import tick


@dataclass
class FakePredictor:
    model_name: str = "fake"
    model_version: str = "7"
    model_type: str = "har"
    frames: list[int] = field(default_factory=list)
    fail: bool = False

    def predict(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0) -> dict[str, Any]:
        self.frames.append(len(frame))
        if self.fail:
            raise RuntimeError("model exploded")
        vol = float(frame["close"].iloc[-100:].pct_change().std())  # a fixed lookback, like real models
        return {
            "predicted_volatility": 3 * vol,
            "current_volatility": vol,
            "model_version": self.model_version,
            "source": source,
            "origin_timestamp": frame.index[-1].isoformat(),
        }

    def predict_rows(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0, n: int = 1) -> list[dict]:
        """A model that cannot batch: the processor then asks it tick by tick."""
        raise NotImplementedError("answers one candle at a time")


def run(processor: StreamProcessor, ticks: list, batch: int, emit: bool = True) -> list:
    out = []
    for i in range(0, len(ticks), batch):
        res = processor.process([Incoming(t, f"p/0/{i + j}", emit=emit) for j, t in enumerate(ticks[i : i + batch])])
        out.extend(res.predictions)
    return out


@pytest.fixture(scope="module")
def sim_ticks() -> list:
    return list(simulate_ticks(["BTC/USDT", "ETH/USDT"], max_bars=300, chunk_bars=300))


def test_every_tick_gets_one_prediction_keyed_by_symbol_and_event_time(sim_ticks: list) -> None:
    preds = run(StreamProcessor(), sim_ticks, batch=64)
    assert sorted(p.event_key for p in preds) == sorted(t.event_key for t in sim_ticks)
    first = next(p for p in preds if p.symbol == "BTC/USDT")
    assert first.heuristic_signal.error and "warming up" in first.heuristic_signal.error
    late = [p for p in preds if p.window_size >= 60]
    assert late and all(p.heuristic_signal.risk_score is not None for p in late)
    assert all(0 <= p.heuristic_signal.risk_score <= 1 for p in late)
    assert all(p.processing_latency_ms > 0 for p in preds)
    assert all(p.ml_prediction is None for p in preds)  # no model configured


def test_answers_do_not_depend_on_batching(sim_ticks: list) -> None:
    ticks = sim_ticks[:100]  # one feature computation per tick when unbatched: keep it short
    big = {p.event_key: p for p in run(StreamProcessor(), ticks, batch=100)}
    single = {p.event_key: p for p in run(StreamProcessor(), ticks, batch=1)}
    assert big.keys() == single.keys()
    for key, p in big.items():
        assert p.heuristic_signal == single[key].heuristic_signal
        assert p.anomalies == single[key].anomalies


def test_warm_up_rebuilds_state_without_answering(sim_ticks: list) -> None:
    reference = {p.event_key: p for p in run(StreamProcessor(), sim_ticks, batch=50)}
    proc = StreamProcessor()
    assert run(proc, sim_ticks[:400], batch=100, emit=False) == []
    resumed = run(proc, sim_ticks[400:], batch=100)
    assert len(resumed) == len(sim_ticks) - 400
    for p in resumed:
        assert p.heuristic_signal == reference[p.event_key].heuristic_signal
        assert p.window_size == reference[p.event_key].window_size


def test_stale_and_duplicate_ticks_are_not_answered_twice() -> None:
    proc = StreamProcessor()
    ticks = [tick(hour=h, price=100 + h) for h in range(5)]
    first = proc.process([Incoming(t, "r") for t in ticks])
    again = proc.process([Incoming(ticks[3], "r"), Incoming(tick(hour=5, price=105), "r")])
    assert len(first.predictions) == 5
    assert [p.event_key for p in again.predictions] == [tick(hour=5).event_key]
    assert [i.tick.event_key for i in again.stale] == [ticks[3].event_key]


def test_after_a_reset_replayed_ticks_rebuild_state_and_the_rest_is_answered_as_before(sim_ticks: list) -> None:
    # The consumer resets the processor when partitions are assigned again in the same process, then
    # replays from the committed offset: ticks already seen must not be skipped as stale.
    reference = {p.event_key: p for p in run(StreamProcessor(), sim_ticks, batch=50)}
    proc = StreamProcessor()
    run(proc, sim_ticks[:500], batch=100)
    assert run(proc, sim_ticks[300:500], batch=100) == []  # without a reset: all stale
    proc.reset()
    assert proc.windows == {} and proc.alerts.snapshot() == {}
    assert run(proc, sim_ticks[:300], batch=100, emit=False) == []
    again = run(proc, sim_ticks[300:], batch=100)
    assert sorted(p.event_key for p in again) == sorted(t.event_key for t in sim_ticks[300:])
    for p in again:
        assert p.heuristic_signal == reference[p.event_key].heuristic_signal
        assert p.anomalies == reference[p.event_key].anomalies


def test_model_gets_the_window_and_its_failures_stay_per_tick(sim_ticks: list) -> None:
    model = FakePredictor()
    proc = StreamProcessor(lambda: model, window_size=250, ml_min_bars=100)
    btc = [t for t in sim_ticks if t.symbol == "BTC/USDT"]
    preds = run(proc, btc[:-5], batch=40)
    warming = [p for p in preds if p.window_size < 100]
    assert all("warming up" in p.ml_prediction["error"] for p in warming)
    with_ml = [p for p in preds if p.window_size >= 100]
    assert len(model.frames) == len(with_ml) and max(model.frames) == 250  # never more than the window
    assert all(p.ml_prediction["model_version"] == "7" for p in with_ml)
    model.fail = True
    more = proc.process([Incoming(t, "r") for t in btc[-5:]])
    assert len(more.predictions) == 5
    assert all("model exploded" in p.ml_prediction["error"] for p in more.predictions)


def test_each_pair_is_answered_by_the_model_serving_that_pair(sim_ticks: list) -> None:
    models = {"BTC/USDT": FakePredictor(model_version="btc-3"), "ETH/USDT": FakePredictor(model_version="eth-9")}
    asked: list[str] = []

    def serving(symbol: str) -> FakePredictor:
        asked.append(symbol)
        return models[symbol]

    proc = StreamProcessor(window_size=250, ml_min_bars=100, pair_predictor=serving)
    assert proc.has_model
    preds = [p for p in run(proc, sim_ticks, batch=80) if p.window_size >= 100]
    assert {p.symbol for p in preds} == {"BTC/USDT", "ETH/USDT"}
    for p in preds:
        assert p.ml_prediction["model_version"] == models[p.symbol].model_version
    assert set(asked) == {"BTC/USDT", "ETH/USDT"}
    assert models["BTC/USDT"].frames and models["ETH/USDT"].frames


def test_big_24h_moves_alert_once_per_cooldown() -> None:
    proc = StreamProcessor()
    ticks = [tick(hour=h, price=100 + h, change_24h=8.0) for h in range(12)]
    alerts = [a for t in ticks for a in proc.process([Incoming(t, "r")]).alerts]
    price_alerts = [a for a in alerts if a.rule == "price_move_24h"]
    assert [a.timestamp.hour for a in price_alerts] == [1, 5, 9]  # 4 h cooldown in event time
    assert len({a.alert_id for a in alerts}) == len(alerts)


def test_fast_heuristic_matches_the_signals_module(sim_ticks: list) -> None:
    from crypto_mlops.data.sources.synthetic import simulate
    from crypto_mlops.features import compute_features
    from crypto_mlops.signals.heuristic import heuristic_from_features
    from crypto_mlops.streaming.processor import _HeuristicColumns

    features = compute_features(simulate(200, seed=5).frame)
    fast = _HeuristicColumns(features)
    for pos in (20, 60, 120, 199):
        reference = heuristic_from_features(features.iloc[: pos + 1])
        mine = fast.signal(pos, pos + 1)
        assert (mine.risk_score, mine.risk_level, mine.vol_regime, mine.momentum, mine.nowcast_ret) == (
            reference.risk_score,
            reference.risk_level,
            reference.vol_regime,
            reference.momentum,
            reference.nowcast_ret,
        )
        assert mine.vol == pytest.approx(reference.vol, rel=1e-9)


@dataclass
class RowsPredictor(FakePredictor):
    """Answers several rows in one call, like a model that computes its features once."""

    calls: list[int] = field(default_factory=list)

    def predict_rows(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0, n: int = 1) -> list[dict]:
        self.calls.append(n)
        return [self.predict(frame.iloc[: len(frame) - k], source, bar_hours) for k in range(n - 1, -1, -1)]


def test_batched_model_calls_give_the_per_tick_answers(sim_ticks: list) -> None:
    btc = [t for t in sim_ticks if t.symbol == "BTC/USDT"][:130]
    one_by_one = StreamProcessor(lambda: FakePredictor(), 150, ml_min_bars=100)
    per_tick = {p.event_key: p.ml_prediction for p in run(one_by_one, btc, 1)}
    rows_model = RowsPredictor()
    batched = run(StreamProcessor(lambda: rows_model, 150, ml_min_bars=100), btc, 40)
    assert rows_model.calls == [21, 10]  # one call per batch: rows 99..119, then 120..129
    for p in batched:
        assert p.ml_prediction == per_tick[p.event_key]


def test_a_stop_request_abandons_a_slow_batch_before_the_next_model_call(sim_ticks: list) -> None:
    from crypto_mlops.streaming.processor import BatchInterrupted

    model = FakePredictor()
    proc = StreamProcessor(lambda: model, window_size=250, ml_min_bars=100)
    btc = [t for t in sim_ticks if t.symbol == "BTC/USDT"]
    calls = iter(range(1000))
    with pytest.raises(BatchInterrupted):
        proc.process([Incoming(t, "r") for t in btc], should_stop=lambda: next(calls) >= 3)
    assert len(model.frames) == 3  # three model calls, then the stop was seen


def test_a_new_timeframe_starts_a_new_window() -> None:
    proc = StreamProcessor()
    hourly = [tick(hour=h) for h in range(12)]
    minute = hourly[-1].model_copy(update={"timeframe": "1m"})
    minute = minute.model_copy(update={"timestamp": hourly[-1].timestamp + pd.Timedelta(minutes=1)})
    out = proc.process([Incoming(t, "r") for t in hourly] + [Incoming(minute, "r")])
    assert [p.window_size for p in out.predictions] == [*range(1, 13), 1]
    assert proc.windows["BTC/USDT"].timeframe == "1m"
