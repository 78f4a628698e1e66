"""SPEC §5 target: RV24 at origin t from returns t+1..t+24; chronological, purged split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.models.backtest import Prepared
from crypto_mlops.models.target import chronological_split, realized_vol_target


def test_target_matches_hand_computed_example() -> None:
    # closes 100, 110, 99, 99, 108.9: log returns r1..r4 = ln 1.1, ln 0.9, 0, ln 1.1
    close = pd.Series([100.0, 110.0, 99.0, 99.0, 108.9])
    r = np.log(close).diff()
    rv = realized_vol_target(r, horizon=2)
    # origin 0 (close 100): next two returns r1, r2
    assert rv.iloc[0] == pytest.approx(np.sqrt(np.log(1.1) ** 2 + np.log(0.9) ** 2))
    # origin 1: r2, r3 = ln 0.9, 0
    assert rv.iloc[1] == pytest.approx(abs(np.log(0.9)))
    # origin 2: r3, r4 = 0, ln 1.1 (the origin's own return r2 is NOT in its target)
    assert rv.iloc[2] == pytest.approx(np.log(1.1))
    # the last `horizon` origins have an incomplete future
    assert rv.iloc[3:].isna().all()


def test_target_on_hourly_frame_uses_the_next_24_closes(prepared: Prepared) -> None:
    close = prepared.frame["close"].to_numpy()
    t = 1000
    expected = np.sqrt(sum(np.log(close[t + k] / close[t + k - 1]) ** 2 for k in range(1, 25)))
    assert prepared.target.iloc[t] == pytest.approx(expected, rel=1e-12)
    assert prepared.horizon == 24
    assert prepared.target.iloc[-24:].isna().all()
    assert np.isfinite(prepared.target.iloc[-25])


def test_split_is_chronological_and_purged() -> None:
    s = chronological_split(1000, 0.7, 24)
    train, test = s.train_mask(), s.test_mask()
    assert not (train & test).any()
    last_train = np.flatnonzero(train)[-1]
    first_test = np.flatnonzero(test)[0]
    # the last training target (origin + 24) ends before the first test origin
    assert last_train + 24 < first_test
    assert first_test == 700
    assert np.flatnonzero(test)[-1] == 1000 - 24 - 1


def test_split_rejects_bad_fractions() -> None:
    with pytest.raises(ValueError):
        chronological_split(1000, 0.99, 24)
    with pytest.raises(ValueError):
        chronological_split(60, 0.7, 24)
