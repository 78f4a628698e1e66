"""Confidence: calibrated on synthetic data where the hit probability depends on surprise, recency
weighting, walk-forward re-estimation without look-ahead, and saved models from before `half_life`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.models.backtest import Prepared
from crypto_mlops.models.confidence import (
    BAND,
    HALF_LIFE,
    ConfidenceModel,
    Sample,
    block_confidence,
    hits,
    surprise,
)
from crypto_mlops.models.reliability import reliability_table
from crypto_mlops.models.walkforward import WalkForwardConfig, run_walk_forward

RV720 = 0.2


def _synthetic(n: int, seed: int, rate: float | None = None) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Features, realized, forecast and the true hit probability: 0.25 at low surprise up to 0.65 at high."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(-1.0, 1.0, n)
    features = pd.DataFrame({"rv720": np.full(n, RV720)}, index=pd.date_range("2024-01-01", periods=n, freq="h"))
    forecast = np.sqrt(24 * RV720**2 / 720 * np.exp(z))
    truth = 0.45 + 0.2 * z if rate is None else np.full(n, rate)
    hit = rng.uniform(size=n) < truth
    inside = rng.uniform(-0.9 * BAND, 0.9 * BAND, n)
    outside = np.where(rng.uniform(size=n) < 0.5, rng.uniform(1.1 * BAND, 1.0, n), -rng.uniform(1.1 * BAND, 0.7, n))
    realized = forecast * (1.0 + np.where(hit, inside, outside))
    return features, realized, forecast, truth


def test_surprise_is_the_one_the_synthetic_data_was_built_on() -> None:
    features, realized, forecast, truth = _synthetic(1000, 0)
    z = surprise(features, forecast)
    assert np.allclose(0.45 + 0.2 * z, truth)
    assert np.nanmean(hits(realized, forecast)) == pytest.approx(truth.mean(), abs=0.05)


def test_conditional_hit_rate_is_recovered_out_of_sample() -> None:
    features, realized, forecast, truth = _synthetic(40_000, 1)
    fit = np.arange(len(features)) < 20_000
    model = ConfidenceModel.fit(features, realized, forecast, fit, half_life=None)
    stated = model.score(features.iloc[20_000:], forecast[20_000:])
    assert ((stated >= 0) & (stated <= 1)).all() and stated.std() > 0.05
    assert np.corrcoef(stated, truth[20_000:])[0, 1] > 0.95
    table = reliability_table(stated, hits(realized[20_000:], forecast[20_000:]), overlap=1)
    assert table.within, "\n".join(table.lines())
    assert table.ece_pts < 2.5


def test_recency_weighting_follows_a_drifting_hit_rate() -> None:
    old = _synthetic(6000, 2, rate=0.3)
    new = _synthetic(1500, 3, rate=0.6)
    features = pd.concat([old[0], new[0]], ignore_index=True)
    realized, forecast = np.r_[old[1], new[1]], np.r_[old[2], new[2]]
    everything = np.ones(len(features), dtype=bool)
    uniform = ConfidenceModel.fit(features, realized, forecast, everything, half_life=None)
    recent = ConfidenceModel.fit(features, realized, forecast, everything, half_life=720)
    assert uniform.overall == pytest.approx(0.36, abs=0.03)
    # the old origins keep the weight 0.5 ** (1500 / 720) of the total
    assert recent.overall == pytest.approx(0.6 - 0.3 * 0.5 ** (1500 / 720), abs=0.03)
    assert recent.half_life == 720 and uniform.half_life is None


def test_models_saved_before_half_life_still_load_and_score() -> None:
    features, realized, forecast, _ = _synthetic(3000, 4)
    model = ConfidenceModel.fit(features, realized, forecast, np.ones(3000, dtype=bool))
    saved = model.to_dict()
    assert ConfidenceModel.from_dict(saved) == model
    old = {k: v for k, v in saved.items() if k != "half_life"}
    loaded = ConfidenceModel.from_dict(old)
    assert loaded.half_life is None
    assert np.array_equal(loaded.score(features, forecast), model.score(features, forecast))
    with pytest.raises(ValueError):
        ConfidenceModel.fit(features, realized, forecast, np.arange(3000) < 10)


def test_block_confidence_uses_only_errors_known_before_each_refit() -> None:
    features, realized, forecast, _ = _synthetic(3000, 5)
    blocks = [(1000, 1500), (1500, 2000), (2000, 2500)]
    seed = Sample.of(features, realized, forecast, np.arange(3000) < 1000)
    a = block_confidence(features, realized, forecast, blocks, horizon=24, seed=seed)
    assert np.isnan(a[:1000]).all() and np.isnan(a[2500:]).all() and np.isfinite(a[1000:2500]).all()
    later = realized.copy()
    later[1500 - 24 :] *= 3.0  # every origin whose window had not closed by the second refit
    b = block_confidence(features, later, forecast, blocks, horizon=24, seed=seed)
    assert np.array_equal(a[:2000], b[:2000], equal_nan=True)
    assert not np.array_equal(a[2000:2500], b[2000:2500])
    # without a seed the first block has no known error to learn from
    c = block_confidence(features, realized, forecast, blocks, horizon=24)
    assert np.isnan(c[1000:1500]).all() and np.isfinite(c[1500:2500]).all()


def test_walk_forward_states_a_confidence_for_every_scored_origin(prepared: Prepared) -> None:
    config = WalkForwardConfig(progress=False, mcs_reps=50)
    result = run_walk_forward(prepared, config, ["ewma", "har"])
    for name in ("ewma", "har"):
        stated = result.confidence[name]
        assert len(stated) == len(result.predictions)
        assert np.isfinite(stated).all() and ((stated >= 0) & (stated <= 1)).all() and stated.std() > 0


def test_saved_half_life_is_kept_when_the_default_moves() -> None:
    features, realized, forecast, _ = _synthetic(3000, 6)
    everything = np.ones(3000, dtype=bool)
    default = ConfidenceModel.fit(features, realized, forecast, everything)
    assert default.half_life == HALF_LIFE
    first_round = ConfidenceModel.fit(features, realized, forecast, everything, half_life=1440.0)
    loaded = ConfidenceModel.from_dict(first_round.to_dict())
    assert loaded.half_life == 1440.0 and loaded == first_round
    assert np.array_equal(loaded.score(features, forecast), first_round.score(features, forecast))
