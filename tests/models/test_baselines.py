"""Baselines fit on the training part only and give sensible forecasts."""

from __future__ import annotations

import numpy as np
import pytest

from crypto_mlops.models.backtest import Prepared, run_backtest
from crypto_mlops.models.baselines import GarchModel, HarCalendarModel, hour_of_week_factors
from crypto_mlops.models.target import chronological_split
from crypto_mlops.models.zoo import BASELINES, MODEL_CLASSES, make_model


def _train_mask(p: Prepared) -> np.ndarray:
    s = chronological_split(len(p.features), 0.7, p.horizon)
    return s.train_mask() & (np.arange(len(p.features)) >= 720)


def test_registry_finds_every_model_by_name() -> None:
    assert set(MODEL_CLASSES) == {
        "naive",
        "ewma",
        "garch",
        "har",
        "har_calendar",
        "har_x",
        "shar",
        "harq",
        "har_xsq",
        "bilstm",
    }
    for name in MODEL_CLASSES:
        assert make_model(name).name == name
    with pytest.raises(KeyError):
        make_model("prophet")


def test_ewma_is_the_riskmetrics_recursion(prepared: Prepared) -> None:
    r = prepared.features["log_ret"].to_numpy()  # r[0] is NaN: the recursion starts at r[1]^2
    var = np.full_like(r, np.nan)
    var[1] = r[1] ** 2
    for i in range(2, len(r)):
        var[i] = 0.94 * var[i - 1] + 0.06 * r[i] ** 2
    model = make_model("ewma").fit(prepared.features, prepared.target, _train_mask(prepared))
    expected = np.sqrt(24 * var)
    np.testing.assert_allclose(model.predict(prepared.features).to_numpy()[1:], expected[1:], rtol=1e-9)


def test_garch_parameters_are_stationary_and_forecasts_mean_revert(prepared: Prepared) -> None:
    model = make_model("garch").fit(prepared.features, prepared.target, _train_mask(prepared))
    assert isinstance(model, GarchModel)
    assert model.alpha > 0 and model.beta > 0 and model.alpha + model.beta < 1
    assert model.nu > 2
    fc = model.predict(prepared.features).to_numpy()
    assert np.isfinite(fc).all() and (fc > 0).all()


def test_hour_of_week_factors_use_training_rows_only(prepared: Prepared) -> None:
    mask = _train_mask(prepared)
    f1 = hour_of_week_factors(prepared.features, mask)
    changed = prepared.features.copy()
    changed.loc[changed.index[~mask], "log_ret"] *= 5.0  # only non-training rows
    np.testing.assert_allclose(hour_of_week_factors(changed, mask), f1)
    assert f1.mean() == pytest.approx(1.0)
    assert len(f1) == 168


def test_calendar_har_learns_the_simulated_weekend_dip(prepared: Prepared) -> None:
    model = make_model("har_calendar").fit(prepared.features, prepared.target, _train_mask(prepared))
    assert isinstance(model, HarCalendarModel)
    factors = np.asarray(model.factors)
    weekend = factors[5 * 24 :].mean()
    weekday = factors[: 5 * 24].mean()
    assert weekend < weekday


def test_baseline_backtest_scores_all_models_on_common_origins(prepared: Prepared) -> None:
    result = run_backtest(prepared, 0.7, BASELINES)
    assert [r["model"] for r in result.table] == BASELINES
    n = {r["n"] for r in result.table}
    assert len(n) == 1 and n.pop() == len(result.predictions)
    for r in result.table:
        assert r["qlike"] > 0 and 0 <= r["mz_r2"] <= 1
    first_test = result.predictions.index[0]
    assert first_test > prepared.features.index[int(0.7 * len(prepared.features)) - 1]
    assert (result.predictions[BASELINES] > 0).all().all()
