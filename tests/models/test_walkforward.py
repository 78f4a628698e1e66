"""Walk-forward backtest: refit schedule, no look-ahead across refits, MCS and quantile outputs."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.data.market import MarketData
from crypto_mlops.models.backtest import Prepared, prepare, run_backtest
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.walkforward import (
    WalkForwardConfig,
    WalkForwardResult,
    parse_window,
    refit_blocks,
    run_walk_forward,
)
from tests.perturb import perturbed_after

FAST = ["naive", "ewma", "har", "har_calendar", "har_x"]
CUT = 2200  # candles after this row are perturbed


@pytest.fixture(scope="module")
def result(prepared: Prepared) -> WalkForwardResult:
    return run_walk_forward(prepared, WalkForwardConfig(progress=False, mcs_reps=200), FAST)


def test_refit_points_are_weekly_from_the_single_split_test_start(
    prepared: Prepared, result: WalkForwardResult
) -> None:
    single = run_backtest(prepared, 0.7, ["har"])
    points = pd.DatetimeIndex(result.split["refit_points"])
    assert points[0] == pd.Timestamp(single.split["test_start"])
    assert (points.to_series().diff().dropna() == pd.Timedelta(days=7)).all()
    assert result.split["test_origins"] == single.split["test_origins"]
    assert list(result.predictions.index) == list(single.predictions.index)
    assert len(result.refits) == len(points) * len(FAST)


def test_every_fit_ends_before_the_origins_it_forecasts(result: WalkForwardResult) -> None:
    for r in result.refits:
        # the last training origin's 24 h target window closes before the refit point
        assert (
            pd.Timestamp(r.train_last) + pd.Timedelta(hours=24) < pd.Timestamp(r.at) <= pd.Timestamp(r.forecast_until)
        )
    har = [r for r in result.refits if r.model == "har"]
    assert all(b.train_origins > a.train_origins for a, b in itertools.pairwise(har))  # expanding


def test_rolling_window_and_start(prepared: Prepared) -> None:
    config = WalkForwardConfig(
        refit_every=pd.Timedelta(days=3),
        window=parse_window("rolling:40d"),
        start=pd.Timestamp("2024-06-01"),
        progress=False,
        mcs_reps=100,
    )
    res = run_walk_forward(prepared, config, ["har"])
    points = pd.DatetimeIndex(res.split["refit_points"])
    assert points[0] == pd.Timestamp("2024-06-01", tz="UTC")
    assert (points.to_series().diff().dropna() == pd.Timedelta(days=3)).all()
    for r in res.refits:
        assert r.train_origins == 40 * 24
    assert res.split["window"] == "rolling:40d"


def test_blocks_cover_the_range_once() -> None:
    index = pd.date_range("2024-01-01", periods=500, freq="h", tz="UTC")
    blocks = refit_blocks(index, 100, 480, pd.Timedelta(days=1))
    assert blocks[0][0] == 100 and blocks[-1][1] == 480
    assert all(a[1] == b[0] for a, b in itertools.pairwise(blocks))
    assert all(q - p == 24 for p, q in blocks[:-1])


@pytest.mark.parametrize("text", ["rolling", "rolling:", "window:3d", "rolling:-2d"])
def test_bad_window(text: str) -> None:
    with pytest.raises(ValueError):
        parse_window(text)


def test_mcs_is_well_formed(result: WalkForwardResult) -> None:
    mcs = result.mcs
    assert mcs["size"] == 0.1 and mcs["included"]
    assert set(mcs["pvalues"]) == set(FAST)
    assert all(0.0 <= p <= 1.0 for p in mcs["pvalues"].values())
    assert max(mcs["pvalues"].values()) == 1.0
    for row in result.table:
        assert row["in_mcs"] == (row["model"] in mcs["included"]) == (row["mcs_p"] >= 0.1)


def test_quantile_columns_and_coverage(result: WalkForwardResult) -> None:
    csv = result.predictions_csv()
    assert list(csv.columns[: len(FAST)]) == FAST
    for name in FAST:
        q = csv[[f"{name}_q10", f"{name}_q50", f"{name}_q90"]].to_numpy()
        assert np.isfinite(q).all() and (q > 0).all()
        assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all()
        row = result.row(name)
        assert 0.5 < row["cov80"] < 0.97 and row["pinball"] > 0 and row["fit_seconds"] >= 0


def _perturbed(frame: pd.DataFrame) -> pd.DataFrame:
    return perturbed_after(frame, CUT, 3)


def test_perturbing_the_future_changes_no_earlier_forecast(market: MarketData) -> None:
    """Refits straddle the cut; forecasts (points and quantiles) at origins <= the cut must not move."""
    config = WalkForwardConfig(refit_every=pd.Timedelta(days=2), train_frac=0.6, progress=False, mcs_reps=50)
    names = ["garch", "har_x", "bilstm"]
    tiny = BiLSTMConfig.tiny()
    a = run_walk_forward(prepare(market.frame), config, names, tiny).predictions
    b = run_walk_forward(prepare(_perturbed(market.frame)), config, names, tiny).predictions
    cut = market.frame.index[CUT]
    before = a.index <= cut
    assert before.sum() > 100 and (~before).sum() > 100
    cols = [c for c in a.columns if c != "realized"]
    common = a.index[before].intersection(b.index)
    pd.testing.assert_frame_equal(a.loc[common, cols], b.loc[common, cols])
    later = a.index[a.index > cut + pd.Timedelta(days=2)].intersection(b.index)
    assert not np.allclose(a.loc[later, "har_x"], b.loc[later, "har_x"])


def test_har_window_rolls_only_the_har_family(prepared: Prepared) -> None:
    config = WalkForwardConfig(har_window=parse_window("rolling:30d"), progress=False, mcs_reps=50)
    res = run_walk_forward(prepared, config, ["ewma", "har", "harq", "har_xsq"])
    sizes = {r.model: r.train_origins for r in res.refits if r.at == res.split["first_refit"]}
    assert sizes["har"] == sizes["harq"] == sizes["har_xsq"] == 30 * 24
    assert sizes["ewma"] > 30 * 24  # expanding
    assert res.split["har_window"] == "rolling:30d"
