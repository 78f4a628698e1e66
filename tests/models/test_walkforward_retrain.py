"""Walk-forward with a retrain schedule: learned models keep their fit between retrains, baselines refit weekly."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.data.market import MarketData
from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.models.backtest import Prepared, prepare
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.walkforward import WalkForwardConfig, retrain_marks, run_walk_forward
from crypto_mlops.models.walkforward_pooled import run_pooled_walk_forward
from tests.models.conftest import END

DAY = pd.Timedelta(days=1)


def _config(refit_days: int, retrain_days: int | None, train_frac: float = 0.6) -> WalkForwardConfig:
    return WalkForwardConfig(
        refit_every=refit_days * DAY,
        retrain_every=None if retrain_days is None else retrain_days * DAY,
        train_frac=train_frac,
        progress=False,
        mcs_reps=50,
    )


def test_retrain_marks_are_the_first_refit_on_or_after_each_interval() -> None:
    weekly = list(pd.date_range("2020-01-01", periods=30, freq="7D", tz="UTC"))
    marks = sorted(retrain_marks(weekly, pd.Timedelta(days=90)))
    # 90 days is not a whole number of weeks: the first weekly refit on or after 2020-03-31 is 2020-04-01
    assert [m.strftime("%Y-%m-%d") for m in marks] == ["2020-01-01", "2020-04-01", "2020-07-01"]
    assert retrain_marks(weekly, None) == set(weekly)
    assert retrain_marks(weekly[:1], pd.Timedelta(days=90)) == set(weekly[:1])


def test_learned_model_is_held_between_retrains_and_baselines_refit_every_time(prepared: Prepared) -> None:
    tiny = BiLSTMConfig.tiny()
    held = run_walk_forward(prepared, _config(2, 6), ["har", "bilstm"], tiny)
    points = list(held.split["refit_points"])
    assert held.split["retrain_every"] == "6d" and len(points) >= 6
    assert [r.at for r in held.refits if r.model == "har"] == points
    assert [r.at for r in held.refits if r.model == "bilstm"] == points[::3]
    for r in held.refits:  # every fit still ends before the origins it forecasts
        assert pd.Timestamp(r.train_last) + pd.Timedelta(hours=24) < pd.Timestamp(r.at)
    # A fit held over three 2-day blocks forecasts exactly what one fit per 6 days, from scratch, forecasts.
    every6 = run_walk_forward(prepared, replace(_config(6, None), warm_start=False), ["bilstm"], tiny)
    common = held.predictions.index.intersection(every6.predictions.index)
    assert len(common) > 100
    np.testing.assert_allclose(held.predictions.loc[common, "bilstm"], every6.predictions.loc[common, "bilstm"])
    # ... while its quantile band is still re-estimated at every 2-day refit from the errors known by then
    assert not np.allclose(held.predictions.loc[common, "bilstm_q90"], every6.predictions.loc[common, "bilstm_q90"])
    row = held.row("bilstm")
    assert row["fit_seconds"] >= 0 and 0.5 < row["cov80"] < 0.97


@pytest.fixture(scope="module")
def two_pairs(market: MarketData) -> dict[str, Prepared]:
    other = simulate(n_bars=3000, seed=8, end=END)
    return {"A": prepare(market.frame.iloc[:2640]), "B": prepare(other.frame.iloc[:2640])}


def test_pooled_bilstm_is_held_between_retrains(two_pairs: dict[str, Prepared]) -> None:
    tiny = BiLSTMConfig.tiny()
    res = run_pooled_walk_forward(two_pairs, _config(2, 4, 0.78), ["har"], ["har_x", "bilstm"], tiny)
    for r in res.values():
        points = list(r.split["refit_points"])
        assert len(points) >= 4
        assert [x.at for x in r.refits if x.model == "har_x_pooled"] == points
        assert [x.at for x in r.refits if x.model == "bilstm_pooled"] == points[::2]
        assert {"bilstm_pooled", "bilstm_pooled_q10", "har_x_pooled"} <= set(r.predictions.columns)
    once = run_pooled_walk_forward(
        two_pairs, replace(_config(4, None, 0.78), warm_start=False), ["har"], ["bilstm"], tiny
    )
    for pair, r in res.items():
        common = r.predictions.index.intersection(once[pair].predictions.index)
        assert len(common) > 100
        np.testing.assert_allclose(
            r.predictions.loc[common, "bilstm_pooled"], once[pair].predictions.loc[common, "bilstm_pooled"]
        )
