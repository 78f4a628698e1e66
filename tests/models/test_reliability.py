"""Reliability table mechanics: calibrated probabilities give small gaps, miscalibrated ones large gaps."""

from __future__ import annotations

import numpy as np
import pytest

from crypto_mlops.models.reliability import reliability_table


def _draws(n: int, seed: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    stated = rng.uniform(0.2, 0.8, n)
    hit = (rng.uniform(size=n) < stated + shift).astype(float)
    return stated, hit


def test_calibrated_probabilities_have_small_gaps() -> None:
    stated, hit = _draws(120_000, 1)
    table = reliability_table(stated, hit)
    assert table.within and not table.misses
    assert table.mce_pts < 2.5 and table.ece_pts < 1.5
    assert abs(table.stated - table.observed) < 0.01
    assert sum(b.count for b in table.bins) == table.n == len(stated)
    assert [b.lo for b in table.bins] == sorted(b.lo for b in table.bins)
    assert all(b.lo <= b.stated < b.hi for b in table.bins)


def test_miscalibrated_probabilities_have_large_gaps() -> None:
    stated, hit = _draws(120_000, 2, shift=-0.15)  # hits 15 points less often than stated
    table = reliability_table(stated, hit)
    assert not table.within and len(table.misses) == len([b for b in table.bins if b.judged])
    assert all(-17 < b.gap_pts < -13 for b in table.bins if b.judged)
    assert table.ece_pts > 12


def test_overconfident_extremes_show_up_per_bin() -> None:
    rng = np.random.default_rng(3)
    stated = rng.uniform(0.1, 0.9, 100_000)
    hit = (rng.uniform(size=stated.size) < 0.5 + 0.5 * (stated - 0.5)).astype(float)  # truth is half as spread
    table = reliability_table(stated, hit)
    low, high = table.bins[0], table.bins[-1]
    assert low.gap_pts > 15 and high.gap_pts < -15
    assert abs(table.stated - table.observed) < 0.01  # the overall rate alone would hide it


def test_quantile_bins_hold_equal_counts_and_small_bins_are_not_judged() -> None:
    stated, hit = _draws(10_000, 4)
    table = reliability_table(stated, hit, binning="quantile", n_bins=5)
    assert len(table.bins) == 5 and {b.count for b in table.bins} == {2000}
    few = reliability_table(np.array([0.1, 0.9, 0.9]), np.array([1.0, 0.0, 0.0]), min_count=5)
    assert few.within and np.isnan(few.mce_pts) and few.ece_pts == pytest.approx(90.0 * 3 / 3)


def test_missing_pairs_are_dropped_and_bad_input_raises() -> None:
    table = reliability_table(np.array([0.4, np.nan, 0.6]), np.array([1.0, 1.0, np.nan]))
    assert table.n == 1
    with pytest.raises(ValueError):
        reliability_table(np.array([1.2]), np.array([1.0]))
    with pytest.raises(ValueError):
        reliability_table(np.array([0.5]), np.array([0.5]))
    with pytest.raises(ValueError):
        reliability_table(np.array([0.5, 0.5]), np.array([1.0]))
    with pytest.raises(ValueError):
        reliability_table(np.array([np.nan]), np.array([1.0]))
    assert reliability_table(np.array([0.5, 0.5]), np.array([1.0, 0.0])).to_dict()["within"] is True


def test_chance_within_matches_how_often_calibrated_bins_stay_within() -> None:
    rng = np.random.default_rng(5)
    within, expected, all_within = [], [], []
    for _ in range(300):
        stated = rng.uniform(0.3, 0.7, 2000)  # 8 bins of 250, se about 3 points: often within 5, not always
        hit = (rng.uniform(size=stated.size) < stated).astype(float)
        table = reliability_table(stated, hit, overlap=1)
        judged = [b for b in table.bins if b.judged]
        within.append(len(judged) - len(table.misses))
        expected.append(table.expected_within)
        all_within.append(table.within)
        assert all(0.0 < b.chance_within < 1.0 for b in table.bins)
    assert np.mean(within) == pytest.approx(np.mean(expected), abs=0.1)
    assert np.mean(all_within) == pytest.approx(table.chance_all_within, abs=0.1)
    d = table.to_dict()
    assert d["judged_within"] == within[-1] and d["expected_within"] == pytest.approx(expected[-1])
