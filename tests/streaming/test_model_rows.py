"""The model's answers from kept feature rows equal `predict_rows` on the same candles (the one feature
function), batch after batch, also once the window has started dropping its oldest candles."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.features import model_features
from crypto_mlops.models.inference import ModelPredictor, baseline_predictor
from crypto_mlops.models.refit import fit_baseline
from crypto_mlops.streaming.model_rows import RowForecaster
from crypto_mlops.streaming.processor import Incoming, StreamProcessor
from crypto_mlops.streaming.sources import simulate_ticks

WINDOW = 1500
BATCHES = (300, 700, 97, 1, 180, 2, 250, 140)  # varied sizes: the answers must not depend on them


class CandlesOnly:
    """The same predictor without `forecast_rows`: the processor then gives it candles (`predict_rows`)."""

    def __init__(self, inner: ModelPredictor) -> None:
        self.inner = inner
        self.model_name, self.model_version = inner.model_name, inner.model_version

    def predict(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0) -> Any:
        return self.inner.predict(frame, source, bar_hours)

    def predict_rows(self, frame: pd.DataFrame, source: str, bar_hours: float = 1.0, n: int = 1) -> Any:
        return self.inner.predict_rows(frame, source, bar_hours, n)


def _answers(predictor: Any, ticks: list) -> dict[str, dict[str, Any]]:
    proc = StreamProcessor(lambda: predictor, window_size=WINDOW)
    out: dict[str, dict[str, Any]] = {}
    i = 0
    for size in BATCHES:
        batch = ticks[i : i + size]
        i += size
        for p in proc.process([Incoming(t, "p/0/0") for t in batch]).predictions:
            out[p.event_key] = p.ml_prediction or {}
    assert i >= len(ticks)
    return out


@pytest.fixture(scope="module")
def ticks() -> list:
    return list(simulate_ticks(["BTC/USDT"], max_bars=sum(BATCHES), seed=3))


def _champion() -> ModelPredictor:
    frame = simulate(2000, seed=21).frame
    model = fit_baseline("har_x", model_features(frame), 1.0)  # reads calendar, range and EWMA columns too
    return ModelPredictor(model, model_name="crypto-predictor", model_version="4")


@pytest.mark.parametrize("make", [lambda: baseline_predictor("har"), _champion], ids=["refitted-har", "har_x"])
def test_answers_from_kept_feature_rows_equal_predict_rows_on_the_candles(make: Any, ticks: list) -> None:
    predictor = make()
    assert isinstance(predictor, RowForecaster) and not isinstance(CandlesOnly(predictor), RowForecaster)
    reference = _answers(CandlesOnly(predictor), ticks)
    calls: list[int] = []
    forecast_rows = predictor.forecast_rows
    predictor.forecast_rows = lambda features, bar_hours=1.0, n=1: (
        calls.append(n)
        or forecast_rows(  # type: ignore[method-assign]
            features, bar_hours, n
        )
    )
    fast = _answers(predictor, ticks)
    assert len(calls) >= 6 and 1 in calls  # one call per batch, from the kept rows (a batch of one too)
    assert fast.keys() == reference.keys()
    answered = [k for k, v in reference.items() if "predicted_rv_24h" in v]
    assert len(answered) > 1000  # past the warm-up, with the window full and sliding
    for key, expected in reference.items():
        got = fast[key]
        assert got.keys() == expected.keys(), key
        for name, value in expected.items():
            if name == "prediction_timestamp":
                continue
            if isinstance(value, float):
                assert got[name] == pytest.approx(value, rel=1e-9), (key, name)
            elif name == "interval_80":
                assert got[name] == pytest.approx(list(value), rel=1e-9), (key, name)
            else:
                assert got[name] == value, (key, name)


def test_a_gap_in_the_candles_falls_back_to_the_candles_path(ticks: list) -> None:
    predictor = baseline_predictor("har")
    proc = StreamProcessor(lambda: predictor, window_size=WINDOW)
    proc.process([Incoming(t, "p/0/0") for t in ticks[:1300]])
    assert proc.windows["BTC/USDT"].features is not None  # kept up to date
    gap = ticks[1310:1340]  # ten candles missing: the model gets gap-filled candles, as the API would
    out = proc.process([Incoming(t, "p/0/0") for t in gap])
    assert all("predicted_rv_24h" in (p.ml_prediction or {}) for p in out.predictions)
    assert proc.windows["BTC/USDT"].features is None  # rebuilt from the candles next time
    out = proc.process([Incoming(t, "p/0/0") for t in ticks[1340:1400]])
    assert all("predicted_rv_24h" in (p.ml_prediction or {}) for p in out.predictions)


def test_stable_values_keep_ten_significant_digits() -> None:
    from crypto_mlops.streaming.model_rows import stable_list

    values = [0.012345678912345, 123.456789012345, 0.0, float("nan"), float("inf"), -2.5e-7 / 3]
    got = stable_list(values)
    assert got[:3] == [pytest.approx(0.01234567891, rel=1e-12), pytest.approx(123.456789, rel=1e-12), 0.0]
    assert got[3] is None and got[4] is None
    assert got[5] == pytest.approx(float(f"{values[5]:.10g}"), rel=1e-12)
    assert stable_list([v * (1 + 1e-14) for v in values[:2]]) == got[:2]  # last-bit noise is rounded away
