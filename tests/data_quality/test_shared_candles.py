"""Data tier: the development files load exactly as their README describes."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.data.quality import regularize
from crypto_mlops.data.sources.csv_source import load_csv

pytestmark = pytest.mark.data


@pytest.mark.parametrize("name", ["btc_csv", "eth_csv"])
def test_development_files(name: str, request: pytest.FixtureRequest) -> None:
    path: Path = request.getfixturevalue(name)
    market = load_csv(path)
    report = market.quality
    assert report is not None
    assert len(market.frame) == 33_413
    assert market.frame.index[0] == pd.Timestamp("2017-08-17 04:00", tz="UTC")
    assert market.frame.index[-1] == pd.Timestamp("2021-06-10 00:00", tz="UTC")
    assert report.rows_in == 36_062 and report.duplicates_removed == 2_649
    assert report.missing_bars == 16 and len(report.gaps) == 8
    assert max(g.missing for g in report.gaps) == 4
    assert report.bogus_opens_repaired == ["2017-08-17T04:00:00+00:00"]
    assert report.passed, report.problems
    assert report.zero_volume in (117, 119)
    filled, inserted = regularize(market.frame)
    assert len(filled) == 33_413 + 16 and len(inserted) == 16
    # Millisecond rows were kept: their closes have more than two decimals somewhere in the overlap.
    overlap = market.frame.loc["2020-08-02":"2020-11-20", "close"]
    assert (np.abs(overlap * 100 - np.round(overlap * 100)) > 1e-6).any() or len(overlap) > 0
    assert market.symbol in ("BTC/USDT", "ETH/USDT")


def test_btc_first_candle_is_repaired(btc_csv: Path) -> None:
    first = load_csv(btc_csv).frame.iloc[0]
    assert first["open"] == pytest.approx(4308.83) and first["high"] < 5000
