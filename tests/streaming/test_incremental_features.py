"""`features.incremental.tail_features` equals `compute_features` (the one feature definition), column by
column, for the newest rows of a frame: from the start, during warm-up and with LOOKBACK candles before."""

from __future__ import annotations

import numpy as np
import pytest

from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.features import compute_features
from crypto_mlops.features.incremental import FEATURE_COLUMNS, LOOKBACK, tail_features
from crypto_mlops.streaming.model_rows import incremental_columns_match


def test_the_columns_are_those_of_the_feature_function() -> None:
    assert tuple(compute_features(simulate(50, seed=1).frame).columns) == FEATURE_COLUMNS
    assert incremental_columns_match()


@pytest.mark.parametrize("bar_hours", [1.0, 0.25, 4.0])
@pytest.mark.parametrize(("end", "n"), [(3, 3), (30, 30), (200, 60), (1000, 125), (2400, 1), (2400, 400)])
def test_the_newest_rows_equal_compute_features_on_a_longer_frame(end: int, n: int, bar_hours: float) -> None:
    frame = simulate(2400, seed=int(end + 10 * bar_hours)).frame
    reference = compute_features(frame.iloc[:end], bar_hours).iloc[-n:]
    start = max(0, end - n - LOOKBACK)  # LOOKBACK candles before the new ones, or all since the start
    part = frame.iloc[start:end]
    mine = tail_features(part.index.as_unit("ns").asi8, part.to_numpy(float), bar_hours, n)
    assert mine.shape == (n, len(FEATURE_COLUMNS))
    for j, name in enumerate(FEATURE_COLUMNS):
        expected = reference[name].to_numpy(float)
        assert np.array_equal(np.isnan(mine[:, j]), np.isnan(expected)), name
        np.testing.assert_allclose(mine[:, j], expected, rtol=1e-9, atol=1e-14, equal_nan=True, err_msg=name)
