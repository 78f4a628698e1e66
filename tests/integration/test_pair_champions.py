"""Per-pair champions on a real `mlflow server` (PostgreSQL backend, S3 artifacts on SeaweedFS):
two pairs trained and promoted to their own aliases; serving BTC and ETH resolves different versions,
every answer names the model and alias, and a promotion for one pair reloads that pair only. A pooled
model promoted per pair is served to each pair bound to it (its files round-trip through S3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crypto_mlops.config import Settings
from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.models.registry import alias_map, get_client, pair_alias, promote
from crypto_mlops.models.training import train_and_register
from crypto_mlops.service import CryptoService
from crypto_mlops.service.pair_models import PairModels

pytestmark = pytest.mark.integration

END = pd.Timestamp("2024-05-31 23:00", tz="UTC")


def test_btc_and_eth_are_served_by_their_own_champions(
    mlflow_server: Any, s3_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)
    settings = Settings(
        MLFLOW_TRACKING_URI=mlflow_server.tracking_uri,
        MLFLOW_EXPERIMENT="pair-champions",
        MODEL_NAME="pair-predictor",
        DATA_SOURCE="synthetic",
        DATABASE_URL=f"sqlite:///{tmp_path / 'history.db'}",
        MODEL_POLL_S=0,
    )
    # ETH first: with no champion anywhere its HAR wins its own window and becomes champion-ethusdt only;
    # then BTC (the default pair) becomes champion-btcusdt and the global champion.
    eth_data = simulate(2400, seed=11, symbol="ETH/USDT", end=END)
    eth = train_and_register(eth_data, settings, candidate="har", models=["har"])
    btc = train_and_register(
        simulate(2400, seed=5, symbol="BTC/USDT", end=END), settings, candidate="har", models=["har"]
    )
    assert eth.champion_after == eth.version and btc.champion_after == btc.version and eth.version != btc.version
    client = get_client(settings)
    assert alias_map(client, "pair-predictor") == {
        "champion-ethusdt": eth.version,
        "champion-btcusdt": btc.version,
        "champion": btc.version,
    }
    assert client.get_model_version("pair-predictor", str(eth.version)).tags["data.pairs"] == "ETH/USDT"

    book = PairModels(settings)
    svc = CryptoService(settings, model_book=book)
    try:
        served = {pair: book.serve(pair) for pair in ("BTC/USDT", "ETH/USDT", "SOL/USDT")}
        assert {pair: (s.alias, s.predictor.model_version) for pair, s in served.items()} == {
            "BTC/USDT": ("champion-btcusdt", btc.version),  # same version as the global one: one loaded model
            "ETH/USDT": ("champion-ethusdt", eth.version),
            "SOL/USDT": ("champion", btc.version),  # no champion of its own: the global one
        }
        assert served["BTC/USDT"].holder is served["SOL/USDT"].holder is book.default
        for pair, version in (("BTCUSDT", btc.version), ("ETHUSDT", eth.version)):
            answer = svc.ml_signal(pair, record=False)
            assert answer.model_version == answer.ml_prediction.model_version == version
            assert answer.model_name == "pair-predictor"
        assert svc.ml_signal("ETHUSDT", record=False).model_alias == "champion-ethusdt"
        assert svc.model_info("ETH/USDT").model_uri == "models:/pair-predictor@champion-ethusdt"

        # A new ETH version becomes ETH's champion (by hand here): one poll reloads ETH's model and nothing else
        newer = train_and_register(eth_data, settings, candidate="naive", models=["har"]).version
        assert newer is not None
        promote(settings, newer, "integration test", pair="ETH/USDT")
        results = book.refresh_if_promoted()
        assert [r.model_version for r in results] == [newer]
        assert book.serve("ETH/USDT").predictor.model_version == newer
        assert book.serve("BTC/USDT").predictor.model_version == btc.version
        assert book.refresh_if_promoted() == []
    finally:
        svc.close()


def test_a_pooled_model_promoted_per_pair_serves_each_pair_bound_to_it(
    mlflow_server: Any, s3_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crypto_mlops.models.promotion_pooled import promote_pooled
    from crypto_mlops.models.training_pooled import train_pooled_logged

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)
    settings = Settings(
        MLFLOW_TRACKING_URI=mlflow_server.tracking_uri,
        MLFLOW_EXPERIMENT="pooled-champions",
        MODEL_NAME="pooled-predictor",
        DATA_SOURCE="synthetic",
        DEFAULT_SYMBOL="SOL/USDT",  # neither pair moves the global champion: each gets its own alias
        DATABASE_URL=f"sqlite:///{tmp_path / 'history.db'}",
        MODEL_POLL_S=0,
    )
    end = pd.Timestamp("2024-06-30 23:00", tz="UTC")
    data = [simulate(2000, seed=7, symbol="BTC/USDT", end=end), simulate(2000, seed=8, symbol="ETH/USDT", end=end)]
    trained = train_pooled_logged(data, settings, candidate="har_xsq", models=["har"])
    promotions = {p.pair: p for p in promote_pooled(trained, settings)}
    assert all(p.moved for p in promotions.values())
    versions = {pair: p.version for pair, p in promotions.items()}
    assert alias_map(get_client(settings), "pooled-predictor") == {
        "champion-btcusdt": versions["BTC/USDT"],
        "champion-ethusdt": versions["ETH/USDT"],
    }

    svc = CryptoService(settings, model_book=PairModels(settings))
    try:
        for pair in ("BTC/USDT", "ETH/USDT"):
            answer = svc.ml_signal(pair, record=False)  # the pooled model's pair files came back from S3
            assert (answer.model_alias, answer.model_version) == (pair_alias(pair), versions[pair])
            assert answer.ml_prediction.model_type == "har_xsq_pooled"
    finally:
        svc.close()
