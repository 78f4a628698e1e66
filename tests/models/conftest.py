"""Shared inputs for the model tests: a seeded synthetic market with a fixed end time, a saved tiny BiLSTM."""

from __future__ import annotations

from pathlib import Path

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


@pytest.fixture(scope="session")
def saved_bilstm(prepared: Prepared, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BiLSTM fitted on the first 70 % of the synthetic market and saved (net.onnx beside weights.pt)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from crypto_mlops.models.bilstm import BiLSTMConfig, BiLSTMModel
    from crypto_mlops.models.target import chronological_split

    model = BiLSTMModel(BiLSTMConfig.tiny())
    split = chronological_split(len(prepared.features), 0.7, prepared.horizon)
    model.fit(prepared.features, prepared.target, split.train_mask(), prepared.bar_hours)
    directory = tmp_path_factory.mktemp("bilstm")
    model.save(directory)
    return directory
