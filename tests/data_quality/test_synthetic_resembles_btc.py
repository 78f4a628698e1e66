"""Data tier: the simulator's hourly-return statistics resemble the real BTC/USDT file."""

from pathlib import Path

import numpy as np
import pytest

from crypto_mlops.data.sources.csv_source import load_csv
from crypto_mlops.data.sources.synthetic import simulate


@pytest.mark.data
def test_synthetic_hourly_returns_resemble_real_btc(btc_csv: Path) -> None:
    real = np.log(load_csv(btc_csv).frame["close"]).diff().dropna()
    synthetic = np.log(simulate(len(real), seed=42).frame["close"]).diff().dropna()
    assert 0.6 < synthetic.std() / real.std() < 1.5
    assert synthetic.kurt() > 8 and real.kurt() > 8
    for lag in (1, 24):
        real_acf, syn_acf = real.abs().autocorr(lag), synthetic.abs().autocorr(lag)
        assert syn_acf > 0.5 * real_acf, (lag, real_acf, syn_acf)
    # Share of |r| > 3 std: fat tails of the same order as the real market's.
    real_tail = (real.abs() > 3 * real.std()).mean()
    syn_tail = (synthetic.abs() > 3 * synthetic.std()).mean()
    assert 0.4 < syn_tail / real_tail < 2.5
