"""The stream's numpy heuristic columns equal `features.compute_features` (the one feature definition)."""

from __future__ import annotations

import numpy as np
import pytest

from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.features import compute_features
from crypto_mlops.streaming.heuristic_columns import heuristic_columns

COLUMNS = ("ret", "vol_per_hour", "momentum", "rsi14")


@pytest.mark.parametrize(("bars", "seed", "bar_hours"), [(5, 1, 1.0), (30, 2, 1.0), (300, 3, 0.25), (900, 4, 4.0)])
def test_columns_match_compute_features(bars: int, seed: int, bar_hours: float) -> None:
    frame = simulate(bars, seed=seed).frame
    reference = compute_features(frame, bar_hours)
    mine = heuristic_columns(frame["close"].to_numpy(float), bar_hours)
    for name in COLUMNS:
        expected = reference[name].to_numpy(float)
        assert np.array_equal(np.isnan(mine[name]), np.isnan(expected)), name
        np.testing.assert_allclose(mine[name], expected, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=name)


def test_a_tail_gives_the_window_s_answers() -> None:
    """Features of the last 600 + n bars equal those of the whole window (what the processor relies on)."""
    frame = simulate(1500, seed=8).frame
    full = heuristic_columns(frame["close"].to_numpy(float))
    tail = heuristic_columns(frame["close"].to_numpy(float)[1500 - 700 :])
    for name in COLUMNS:
        np.testing.assert_allclose(tail[name][-100:], full[name][-100:], rtol=1e-12, err_msg=name)
