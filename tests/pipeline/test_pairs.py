"""The pipeline per pair: each listed pair trained on its own candles, gated on its own validation
window and promoted to its own alias (`champion-<pair>`; the default pair also moves `champion`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto_mlops.models.registry import alias_map, get_client
from crypto_mlops.pipeline.manifests import DeployOutcome, EvaluateOutcome, TrainOutcome
from crypto_mlops.pipeline.runner import run_pipeline
from tests.pipeline.conftest import candles, write_csv

pytestmark = pytest.mark.slow


def test_each_pair_is_trained_gated_and_promoted_on_its_own(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_TRAIN_CANDIDATE", "har_x")  # a fast candidate: the per-pair flow is under test
    paths = {
        "ETH/USDT": str(write_csv(candles(2500, seed=8), workdir / "eth.csv")),
        "BTC/USDT": str(write_csv(candles(2500, seed=7), workdir / "btc.csv")),
    }
    summary = run_pipeline(symbols=["ETH/USDT", "BTC/USDT"], source="csv", csv_paths=paths, reload_api=False)
    assert summary.status == "succeeded", summary.reason
    assert summary.train is not None and summary.evaluate is not None and summary.deploy is not None

    trained = summary.train.pairs
    assert [d.symbol for d in trained] == ["BTC/USDT", "ETH/USDT"]  # the default pair first
    assert all(d.trained is not None for d in trained)
    assert "BTC/USDT: retrained" in summary.train.reason and "ETH/USDT: retrained" in summary.train.reason
    assert [e.provenance.pairs for e in summary.evaluate.pairs] == [["BTC/USDT"], ["ETH/USDT"]]
    windows = [(e.window_start, e.window_end) for e in summary.evaluate.pairs]
    assert len(set(windows)) == 1  # same span here, but each pair's forecasts are scored on its own candles
    assert summary.evaluate.pairs[0].table["har"].qlike != summary.evaluate.pairs[1].table["har"].qlike

    btc, eth = summary.deploy.pairs
    assert (btc.symbol, btc.aliases) == ("BTC/USDT", ["champion-btcusdt", "champion"])
    assert (eth.symbol, eth.aliases) == ("ETH/USDT", ["champion-ethusdt"])
    assert btc.champion_version and eth.champion_version and btc.champion_version != eth.champion_version
    aliases = alias_map(get_client(), "crypto-predictor")
    assert aliases == {
        "champion": btc.champion_version,
        "champion-btcusdt": btc.champion_version,
        "champion-ethusdt": eth.champion_version,
    }
    tags = get_client().get_model_version("crypto-predictor", eth.champion_version).tags
    assert tags["data.pairs"] == tags["data.symbol"] == "ETH/USDT"

    # the Airflow tasks hand these outcomes on as JSON: every pair survives the round trip
    for outcome, kind in ((summary.train, TrainOutcome), (summary.evaluate, EvaluateOutcome)):
        assert len(kind.model_validate(outcome.model_dump(mode="json")).pairs) == 2  # type: ignore[attr-defined]
    assert len(DeployOutcome.model_validate(summary.deploy.model_dump(mode="json")).pairs) == 2
