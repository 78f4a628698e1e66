"""Inference API: baseline predictor without a registry, SPEC §4 fields, real confidence, clear errors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.models.inference import MIN_BARS, MLPrediction, baseline_predictor


def test_baseline_har_fits_on_the_frame_and_returns_every_field(market: MarketData) -> None:
    predictor = baseline_predictor("har")
    pred = predictor.predict(market.frame, "synthetic")
    assert isinstance(pred, MLPrediction)
    assert pred.model_type == "har" and pred.model_name == "baseline-har" and pred.source == "synthetic"
    assert pred.predicted_rv_24h > 0
    assert pred.predicted_volatility == pytest.approx(pred.predicted_rv_24h / math.sqrt(24))
    assert pred.volatility_regime in ("calm", "normal", "turbulent")
    assert pred.risk_level in ("low", "medium", "high")
    assert 0 < pred.confidence < 1
    assert pred.origin_timestamp == market.frame.index[-1].isoformat()
    lo, hi = pred.interval_80  # type: ignore[misc]
    assert lo < pred.predicted_rv_24h < hi
    # current_volatility is the heuristic's vol: std of the last 24 log returns per hour
    r = np.log(market.frame["close"]).diff().iloc[-24:]
    assert pred.current_volatility == pytest.approx(r.std())


def test_confidence_is_not_a_constant(market: MarketData) -> None:
    predictor = baseline_predictor("har")
    frame = market.frame
    values = {predictor.predict(frame.iloc[: len(frame) - k], "synthetic").confidence for k in range(0, 400, 40)}
    assert len(values) > 3


def test_short_frames_fall_back_to_ewma_and_say_so(market: MarketData) -> None:
    pred = baseline_predictor("har").predict(market.frame.iloc[-300:], "synthetic")
    assert pred.model_type == "ewma" and pred.predicted_rv_24h > 0


def test_predict_many_and_timestamp_column(market: MarketData) -> None:
    frame = market.frame.iloc[-1200:]
    as_column = frame.reset_index()
    preds = baseline_predictor("har").predict_many([(frame, "a"), (as_column, "b")])
    assert [p.source for p in preds] == ["a", "b"]
    assert preds[0].predicted_rv_24h == pytest.approx(preds[1].predicted_rv_24h)


def test_bad_frames_raise_invalid_input(market: MarketData) -> None:
    predictor = baseline_predictor("har")
    with pytest.raises(InvalidInput, match="at least"):
        predictor.predict(market.frame.iloc[: MIN_BARS - 1], "synthetic")
    with pytest.raises(InvalidInput, match="columns"):
        predictor.predict(market.frame.drop(columns="volume"), "synthetic")
    with pytest.raises(InvalidInput):
        predictor.predict(pd.DataFrame(), "synthetic")
    broken = market.frame.copy()
    broken.iloc[-5, broken.columns.get_loc("close")] = -1.0
    with pytest.raises(InvalidInput, match="non-positive"):
        predictor.predict(broken, "synthetic")
    with pytest.raises(InvalidInput):
        baseline_predictor("prophet")


def test_predict_rows_matches_one_call_per_origin_for_a_fixed_model(market: MarketData) -> None:
    """A registered (fixed) model answers a batch of origins exactly as it answers them one by one."""
    from crypto_mlops.features import model_features
    from crypto_mlops.models.inference import ModelPredictor
    from crypto_mlops.models.refit import fit_baseline

    frame = market.frame
    fitted = fit_baseline("har", model_features(frame.iloc[:-50], 1.0), 1.0)
    predictor = ModelPredictor(fitted, model_name="crypto-predictor", model_version="7")
    batch = predictor.predict_rows(frame, "synthetic", n=5)
    assert [p.origin_timestamp for p in batch] == [ts.isoformat() for ts in frame.index[-5:]]
    for k, answer in enumerate(batch):
        single = predictor.predict(frame.iloc[: len(frame) - 4 + k], "synthetic")
        assert answer.predicted_rv_24h == pytest.approx(single.predicted_rv_24h, rel=1e-9)
        assert answer.confidence == pytest.approx(single.confidence)


def test_predict_rows_refitted_baseline_never_sees_the_future_of_its_first_origin(market: MarketData) -> None:
    predictor = baseline_predictor("har")
    frame = market.frame
    first = predictor.predict_rows(frame, "synthetic", n=6)[0]
    shocked = frame.copy()
    shocked.iloc[-5:, :4] *= 1.3  # move every candle after the first origin
    assert predictor.predict_rows(shocked, "synthetic", n=6)[0].predicted_rv_24h == pytest.approx(
        first.predicted_rv_24h, rel=1e-12
    )


def test_predict_rows_refuses_gaps_among_the_last_candles(market: MarketData) -> None:
    frame = market.frame.drop(index=market.frame.index[-3])
    with pytest.raises(InvalidInput, match="gaps"):
        baseline_predictor("har").predict_rows(frame, "synthetic", n=4)


def test_answers_carry_ordered_quantiles_that_bracket_the_forecast(market: MarketData) -> None:
    rows = baseline_predictor("har").predict_rows(market.frame, "synthetic", n=24)
    for p in rows:
        assert p.rv_24h_q10 is not None and p.rv_24h_q50 is not None and p.rv_24h_q90 is not None
        assert 0 < p.rv_24h_q10 < p.rv_24h_q50 < p.rv_24h_q90
        assert p.rv_24h_q10 < p.predicted_rv_24h < p.rv_24h_q90
        assert p.interval_80 == (p.rv_24h_q10, p.rv_24h_q90)
    # Quantiles scale with the forecast: they are not a constant band.
    assert len({round(p.rv_24h_q90 or 0, 8) for p in rows}) > 1
