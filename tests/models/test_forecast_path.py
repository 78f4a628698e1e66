"""`Predictor.forecast_path`: RV24 forecasts at many past origins in one causal pass, and the refit path."""

from __future__ import annotations

import numpy as np
import pytest

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.features import model_features
from crypto_mlops.features.volatility import bars
from crypto_mlops.models.catalog import make_model
from crypto_mlops.models.inference import ModelPredictor, baseline_predictor
from crypto_mlops.models.refit import MIN_FIT_ORIGINS, fit_baseline
from crypto_mlops.models.target import horizon_bars, realized_vol_target


def test_a_fixed_model_answers_each_origin_as_a_prediction_with_only_its_past(market: MarketData) -> None:
    frame = market.frame.iloc[-1500:]
    fitted = fit_baseline("har_calendar", model_features(market.frame.iloc[:-1500], 1.0), 1.0)
    predictor = ModelPredictor(fitted, model_name="crypto-predictor", model_version="4")
    origins = [900, 1100, 1300, 1499]
    path = predictor.forecast_path(frame, origins)
    assert list(path) == origins
    for i in origins:
        single = predictor.predict(frame.iloc[: i + 1], "synthetic")
        assert path[i] == pytest.approx(single.predicted_rv_24h, rel=1e-9)


def test_a_refitted_baseline_is_fitted_once_on_the_candles_up_to_the_first_origin(market: MarketData) -> None:
    frame = market.frame
    origins = [2200, 2500, 2800, 2999]
    path = baseline_predictor("har").forecast_path(frame, origins)

    # The rule it replaces: HAR fitted on origins with a known future and a full 30-day window,
    # using the candles up to the first origin only, then one pass over every origin.
    features = model_features(frame, 1.0)
    head = features.loc[: frame.index[origins[0]]]
    target = realized_vol_target(head["log_ret"], horizon_bars(1.0))
    mask = np.isfinite(target.to_numpy(float)) & (np.arange(len(head)) >= bars(720, 1.0))
    expected = make_model("har").fit(head, target, mask, 1.0).predict(features).to_numpy()
    assert path == pytest.approx({i: expected[i] for i in origins}, rel=1e-12)

    shocked = frame.copy()
    shocked.iloc[origins[0] + 1 :, :4] *= 1.5  # everything after the first origin moves
    assert baseline_predictor("har").forecast_path(shocked, origins[:1]) == pytest.approx({2200: path[2200]})


def test_too_few_candles_to_refit_and_bad_origins_raise(market: MarketData) -> None:
    predictor = baseline_predictor("har")
    with pytest.raises(InvalidInput, match="origins to fit"):
        predictor.forecast_path(market.frame.iloc[-1200:], [400, 1199])
    with pytest.raises(InvalidInput, match="row positions"):
        predictor.forecast_path(market.frame, [len(market.frame)])
    assert predictor.forecast_path(market.frame, []) == {}


def test_fit_baseline_falls_back_to_ewma_unless_strict(market: MarketData) -> None:
    short = model_features(market.frame.iloc[-900:], 1.0)
    assert fit_baseline("har", short, 1.0).name == "ewma"
    with pytest.raises(InvalidInput):
        fit_baseline("har", short, 1.0, strict=True)
    long = model_features(market.frame, 1.0)
    fitted = fit_baseline("har_x", long, 1.0)
    assert fitted.name == "har_x" and fitted.confidence is not None
    assert fit_baseline("har", long, 1.0, calibrate=False).confidence is None
    with pytest.raises(InvalidInput, match="unknown baseline"):
        fit_baseline("bilstm", long, 1.0)
    assert MIN_FIT_ORIGINS == 240


def test_model_inputs_are_declared_by_the_model_classes(market: MarketData) -> None:
    from crypto_mlops.models.zoo import MODEL_CLASSES

    features = model_features(market.frame.iloc[-300:], 1.0)
    for name, cls in MODEL_CLASSES.items():
        assert cls.inputs, name
        assert set(cls.inputs) <= set(features.columns), name
    predictor = baseline_predictor("har")
    assert predictor.feature_columns == ["rv24", "rv168", "rv720"] and predictor.sequence_length is None
