"""The retrain rule: enough new data, or drift, or nothing to learn from; always with a reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.pipeline import layout, retrain
from crypto_mlops.pipeline.store import open_store
from tests.pipeline.conftest import candles

SERIES = "csv/BTCUSDT/1h"


def _commit(store, frame: pd.DataFrame, run_id: str) -> None:
    key = layout.SeriesKeys.of(SERIES, run_id).staged
    store.put_parquet(layout.RAW, key, frame)
    store.put_json(
        layout.RAW,
        layout.SeriesKeys.of(SERIES, run_id).commit,
        {
            "run_id": run_id,
            "key": key,
            "first": frame.index[0].isoformat(),
            "last": frame.index[-1].isoformat(),
            "rows": len(frame),
        },
    )


def _trained(store, data_end: pd.Timestamp, run_id: str) -> None:
    store.put_json(
        layout.MODELS,
        layout.SeriesKeys.of(SERIES, run_id).training_log,
        {"run_id": run_id, "data_end": data_end.isoformat(), "rows": 0},
    )


def _decide(store, has_champion: bool = True):
    return retrain.decide(store, SERIES, "BTC/USDT", "1h", has_champion=has_champion)


def test_never_trained_retrains_and_no_new_data_does_not(workdir: Path) -> None:
    store = open_store()
    assert not _decide(store).retrain and "no committed candles" in _decide(store).reason
    frame = candles(1000)
    _commit(store, frame, "r1")
    first = _decide(store)
    assert first.retrain and "no training recorded" in first.reason
    _trained(store, frame.index[-1], "r1")
    again = _decide(store)
    assert not again.retrain and again.new_bars_since_training == 0
    assert "no new candles since the last training" in again.reason
    assert _decide(store, has_champion=False).retrain


@pytest.mark.parametrize(("new_hours", "expected"), [(30, True), (3, False)])
def test_enough_new_hours_trigger_a_retrain(workdir: Path, new_hours: int, expected: bool) -> None:
    store = open_store()
    frame = candles(1000 + new_hours)
    _commit(store, frame.iloc[:1000], "r1")
    _trained(store, frame.index[999], "r1")
    _commit(store, frame.iloc[1000:], "r2")
    decision = _decide(store)
    assert decision.retrain is expected
    assert decision.new_bars_since_training == new_hours
    if not expected:
        assert "< 24 h" in decision.reason and "no drift" in decision.reason


def test_volatility_drift_triggers_an_early_retrain(workdir: Path) -> None:
    store = open_store()
    frame = candles(1012)
    _commit(store, frame.iloc[:1000], "r1")
    _trained(store, frame.index[999], "r1")
    # 12 new hours whose moves are ten times larger than the training month's.
    close = frame["close"].to_numpy().copy()
    rng = np.random.default_rng(0)
    for i in range(1000, 1012):
        close[i] = close[i - 1] * float(np.exp(rng.choice([-1, 1]) * 0.08))
    stressed = frame.copy()
    stressed["close"] = close
    stressed["open"] = stressed["close"].shift(1).fillna(stressed["close"])
    stressed["high"] = stressed[["open", "close"]].max(axis=1) * 1.001
    stressed["low"] = stressed[["open", "close"]].min(axis=1) * 0.999
    _commit(store, stressed.iloc[1000:], "r2")
    decision = _decide(store)
    assert decision.retrain and "drift" in decision.reason
    assert decision.drift_ratio is not None and decision.drift_ratio > 1.5
