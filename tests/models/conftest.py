"""Shared inputs for the model tests: a seeded synthetic market with a fixed end time."""

from __future__ import annotations

import pandas as pd
import pytest

from crypto_mlops.data.market import MarketData
from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.models.backtest import Prepared, prepare

END = pd.Timestamp("2024-06-30 23:00", tz="UTC")


@pytest.fixture(scope="session")
def market() -> MarketData:
    return simulate(n_bars=3000, seed=7, end=END)


@pytest.fixture(scope="session")
def prepared(market: MarketData) -> Prepared:
    return prepare(market.frame, market.timeframe)
