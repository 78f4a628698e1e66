"""SHAR, HARQ and HAR-XSQ: their features add up, and they fit and forecast sensibly on synthetic data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from crypto_mlops.models.backtest import Prepared, run_backtest
from crypto_mlops.models.catalog import load_model
from crypto_mlops.models.har_semiq import relative_noise
from crypto_mlops.models.target import chronological_split
from crypto_mlops.models.zoo import make_model

NEW = ["shar", "harq", "har_xsq"]


def _train_mask(p: Prepared) -> np.ndarray:
    s = chronological_split(len(p.features), 0.7, p.horizon)
    return s.train_mask() & (np.arange(len(p.features)) >= 720)


def test_semivariances_add_up_and_quarticity_is_bounded(prepared: Prepared) -> None:
    f = prepared.features.iloc[24:]
    np.testing.assert_allclose(f["rs_pos24"] ** 2 + f["rs_neg24"] ** 2, f["rv24"] ** 2, rtol=1e-9)
    k = relative_noise(f)
    # Cauchy-Schwarz: m Σr⁴ >= (Σr²)², so sqrt(RQ)/RV >= 1/sqrt(3); one dominant return gives sqrt(m/3).
    assert (k >= 1 / np.sqrt(3) - 1e-9).all() and (k <= np.sqrt(24 / 3) + 1e-9).all()


@pytest.mark.parametrize(("name", "parent"), [("shar", "har"), ("harq", "har"), ("har_xsq", "har_x")])
def test_new_baselines_forecast_close_to_their_parent(
    prepared: Prepared, name: str, parent: str, tmp_path: Path
) -> None:
    mask = _train_mask(prepared)
    model = make_model(name).fit(prepared.features, prepared.target, mask)
    har = make_model(parent).fit(prepared.features, prepared.target, mask)
    fc = model.predict(prepared.features).to_numpy()[1000:]
    ref = har.predict(prepared.features).to_numpy()[1000:]
    assert np.isfinite(fc).all() and (fc > 0).all()
    # same family, same data: forecasts agree with the parent to within a factor of 1.5 almost everywhere
    assert np.mean(np.abs(np.log(fc / ref)) < np.log(1.5)) > 0.95
    model.save(tmp_path / name)
    again = load_model(tmp_path / name)
    np.testing.assert_allclose(again.predict(prepared.features).to_numpy()[1000:], fc, rtol=1e-12)


def test_harq_keeps_its_noise_level(prepared: Prepared) -> None:
    """The interaction is centred on the training mean of k, which lies inside its bounds."""
    model = make_model("harq").fit(prepared.features, prepared.target, _train_mask(prepared))
    assert 0.8 < model.noise_mean < 2.0  # type: ignore[attr-defined]
    assert len(model.params()["coef"]) == 5


def test_new_baselines_enter_the_backtest_table(prepared: Prepared) -> None:
    result = run_backtest(prepared, 0.7, ["har", *NEW])
    table = {r["model"]: r for r in result.table}
    for name in NEW:
        assert 0.5 < table[name]["qlike_vs_har"] < 1.5
