"""Perturbing candles after t must not change any feature, or any model's forecast, at origins <= t."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.data.market import MarketData
from crypto_mlops.features import model_features
from crypto_mlops.models.bilstm import BiLSTMConfig
from crypto_mlops.models.target import realized_vol_target
from crypto_mlops.models.zoo import make_model
from tests.perturb import perturbed_after

CUT = 2200  # rows <= CUT keep their candles


def _perturbed(frame: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    return perturbed_after(frame, CUT, seed)


def test_features_up_to_t_ignore_the_future(market: MarketData) -> None:
    frame = market.frame
    a = model_features(frame, 1.0)
    b = model_features(_perturbed(frame), 1.0)
    pd.testing.assert_frame_equal(a.iloc[: CUT + 1], b.iloc[: CUT + 1])
    # sanity: the perturbation is visible after the cut
    assert not np.allclose(a["log_ret"].iloc[CUT + 2 :], b["log_ret"].iloc[CUT + 2 :])


@pytest.mark.parametrize(
    "name", ["naive", "ewma", "garch", "har", "har_calendar", "har_x", "shar", "harq", "har_xsq", "bilstm"]
)
def test_model_inputs_and_forecasts_up_to_t_ignore_the_future(market: MarketData, name: str) -> None:
    frame = market.frame
    f = model_features(frame, 1.0)
    y = realized_vol_target(f["log_ret"], 24)
    train = np.zeros(len(f), dtype=bool)
    train[800:1800] = True
    model = make_model(name, bilstm_config=BiLSTMConfig.tiny())
    model.fit(f, y, train)
    fp = model_features(_perturbed(frame), 1.0)
    a = model.predict(f).to_numpy()
    b = model.predict(fp).to_numpy()
    np.testing.assert_array_equal(a[: CUT + 1], b[: CUT + 1])
    assert np.isfinite(a[1000 : CUT + 1]).all()
    assert not np.allclose(a[CUT + 30 :], b[CUT + 30 :])
