"""Forecast metrics: QLIKE, MSE/MAE, Mincer-Zarnowitz R², Diebold-Mariano with Newey-West."""

from __future__ import annotations

import numpy as np
import pytest

from crypto_mlops.models import metrics
from crypto_mlops.models.backtest import score


def test_qlike_is_zero_only_for_a_perfect_forecast_and_penalises_under_forecasts_more() -> None:
    y = np.array([0.02, 0.03, 0.05])
    assert metrics.qlike(y, y) == pytest.approx(0.0)
    under = metrics.qlike(y, y * 0.5)
    over = metrics.qlike(y, y * 2.0)
    assert under > over > 0
    # hand value for one point: y²/f² = 4 -> 4 - ln 4 - 1
    assert metrics.qlike_losses(np.array([0.02]), np.array([0.01]))[0] == pytest.approx(3 - np.log(4))


def test_mse_mae_and_mz() -> None:
    y = np.array([1.0, 2.0, 3.0, 4.0])
    f = np.array([1.5, 2.0, 2.5, 4.0])
    assert metrics.mse(y, f) == pytest.approx(0.125)
    assert metrics.mae(y, f) == pytest.approx(0.25)
    assert metrics.mincer_zarnowitz_r2(y, 2 * y + 1) == pytest.approx(1.0)  # R² ignores affine bias
    assert metrics.mincer_zarnowitz_r2(y, np.ones(4)) == 0.0


def test_newey_west_reduces_to_variance_without_lags_and_grows_with_positive_autocorrelation() -> None:
    rng = np.random.default_rng(0)
    d = rng.normal(size=2000)
    assert metrics.newey_west_variance(d, 0) == pytest.approx(np.var(d))
    persistent = np.convolve(d, np.ones(24), mode="valid")  # overlapping sums, like 24h targets
    assert metrics.newey_west_variance(persistent, 24) > 5 * metrics.newey_west_variance(persistent, 0)


def test_diebold_mariano_sign_and_significance() -> None:
    rng = np.random.default_rng(1)
    ref = rng.gamma(2.0, 1.0, 3000)
    better = ref - 0.3 + rng.normal(0, 0.1, 3000)
    t, p = metrics.diebold_mariano(better, ref, lags=24)
    assert t < -2 and p < 0.05
    t_same, _ = metrics.diebold_mariano(ref + rng.normal(0, 0.1, 3000), ref, lags=24)
    assert abs(t_same) < 3


def test_score_table_has_every_model_and_har_reference() -> None:
    rng = np.random.default_rng(2)
    y = np.exp(rng.normal(-3.5, 0.4, 500))
    table = score(y, {"har": y * 1.1, "naive": y * np.exp(rng.normal(0, 0.5, 500))})
    rows = {r["model"]: r for r in table}
    assert rows["har"]["qlike_vs_har"] == pytest.approx(1.0)
    assert np.isnan(rows["har"]["dm_t"])
    assert rows["naive"]["qlike"] > rows["har"]["qlike"]
    assert rows["naive"]["dm_t"] > 0
