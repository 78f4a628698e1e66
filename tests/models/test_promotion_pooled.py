"""A pooled model promoted per pair on an embedded MLflow (SQLite + local artifacts), then served.

BTC/USDT already has a champion that knows the future; ETH/USDT has none. One pooled training on both,
promoted per pair: the gate runs on each pair's own window, BTC's champion stays, ETH's alias moves to
the pooled model bound to ETH, and `POST /v1/crypto/ml-signal` for ETH then answers with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from crypto_mlops.api.app import create_app
from crypto_mlops.cli.main import app as cli_app
from crypto_mlops.cli.train_pooled import promotion_line
from crypto_mlops.config import Settings
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.models import zoo
from crypto_mlops.models.inference import load_predictor
from crypto_mlops.models.pooled_pair import PooledPairModel
from crypto_mlops.models.promotion_pooled import PairPromotion, promote_pair, promote_pooled
from crypto_mlops.models.registry import alias_map, get_client
from crypto_mlops.models.training import train_and_register
from crypto_mlops.models.training_pooled import PooledTrainResult, train_pooled_logged
from tests.models.test_registry_gate import NearOracle
from tests.service.fixtures import make_service

END = pd.Timestamp("2024-06-30 23:00", tz="UTC")
N_BARS = 2000


@dataclass
class Promoted:
    settings: Settings
    champion_btc: str
    trained: PooledTrainResult
    promotions: dict[str, PairPromotion]


@pytest.fixture(scope="module")
def promoted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Promoted]:
    tmp = tmp_path_factory.mktemp("pooled-promotion")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp)  # embedded default: ./mlruns artifacts beside the SQLite file
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setitem(zoo.MODEL_CLASSES, "near_oracle", NearOracle)
        # Neither pair is the default one here: each promotion moves its own pair's alias only.
        settings = Settings(MLFLOW_TRACKING_URI=uri, MLFLOW_EXPERIMENT="pooled-promotion", DEFAULT_SYMBOL="SOL/USDT")
        btc, eth = _markets()
        champion = train_and_register(btc, settings, candidate="near_oracle", models=["naive"])
        assert champion.version == champion.champion_after == "1"
        trained = train_pooled_logged([btc, eth], settings, candidate="har_xsq", models=["har"])
        promotions = {p.pair: p for p in promote_pooled(trained, settings)}
        yield Promoted(settings, "1", trained, promotions)


def test_each_pair_gates_the_bound_pooled_model_against_its_own_champion(promoted: Promoted) -> None:
    btc, eth = promoted.promotions["BTC/USDT"], promoted.promotions["ETH/USDT"]
    assert list(promoted.promotions) == ["BTC/USDT", "ETH/USDT"]
    # each pair scored on its own window: BTC against its champion, ETH (no champion) against the baselines
    assert btc.scores.champion_version == "1" and "champion v1" in btc.scores.table
    assert eth.scores.champion_version is None and set(eth.scores.table) == {"har_xsq_pooled", "har"}
    assert btc.scores.table["har"].qlike != eth.scores.table["har"].qlike
    assert btc.decision is not None and not btc.decision.promote and "does not beat champion v1" in btc.decision.reason
    assert eth.decision is not None and eth.decision.promote
    assert (btc.version, btc.moved, btc.result.aliases) == ("2", False, ["champion-btcusdt"])
    assert (eth.version, eth.moved, eth.result.aliases) == ("3", True, ["champion-ethusdt"])

    client = get_client(promoted.settings)
    name = promoted.settings.model_name
    assert alias_map(client, name) == {"champion-btcusdt": "1", "champion-ethusdt": "3"}
    for version, pair, decision in (("2", "BTC/USDT", "False"), ("3", "ETH/USDT", "True")):
        tags = client.get_model_version(name, version).tags
        assert tags["model_type"] == tags["pooled.model"] == "har_xsq_pooled"
        assert tags["pooled.pair"] == tags["data.pairs"] == tags["data.symbol"] == pair
        assert tags["pooled.pairs"] == "BTC/USDT,ETH/USDT" and tags["gate.promote"] == decision
        assert client.get_model_version(name, version).run_id == promoted.trained.run_id  # one run, two versions
    run_tags = client.get_run(promoted.trained.run_id).data.tags
    assert run_tags["gate.decision.ethusdt"].startswith("promoted") and "rejected" in run_tags["gate.decision.btcusdt"]


def test_the_pair_champion_loads_as_the_bound_pooled_model(promoted: Promoted) -> None:
    predictor = load_predictor(promoted.settings, "champion-ethusdt")
    assert isinstance(predictor.model, PooledPairModel) and predictor.model.pair == "ETH/USDT"
    assert (predictor.model_type, predictor.model_version) == ("har_xsq_pooled", "3")
    assert predictor.model.confidence is not None  # calibrated on ETH's window
    features = promoted.trained.prepared["ETH/USDT"].features
    pd.testing.assert_series_equal(
        predictor.model.predict(features),
        promoted.trained.model.predict_pair(features, "ETH/USDT").rename("har_xsq_pooled"),
    )


def test_ml_signal_for_eth_serves_the_pooled_model(promoted: Promoted, tmp_path: Path) -> None:
    overrides = {"mlflow_tracking_uri": promoted.settings.mlflow_tracking_uri, "default_symbol": "SOL/USDT"}
    svc = make_service(tmp_path, settings=overrides)
    try:
        with TestClient(create_app(svc, start_service=False)) as client:
            answers = {s: client.post("/v1/crypto/ml-signal", json={"symbol": s}) for s in ("ETHUSDT", "BTCUSDT")}
    finally:
        svc.close()
    eth, btc = (answers[s].json() for s in ("ETHUSDT", "BTCUSDT"))
    assert answers["ETHUSDT"].status_code == 200, answers["ETHUSDT"].text
    assert (eth["model_alias"], eth["model_version"]) == ("champion-ethusdt", "3")
    assert eth["ml_prediction"]["model_type"] == "har_xsq_pooled" and eth["ml_prediction"]["predicted_rv_24h"] > 0
    assert (btc["model_alias"], btc["model_version"], btc["ml_prediction"]["model_type"]) == (
        "champion-btcusdt",
        "1",
        "near_oracle",
    )


def test_a_pair_where_the_bound_model_loses_gets_its_best_baseline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in a per-pair training: the bound model is gated first, then the pair's own best baseline."""
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    settings = Settings(MLFLOW_TRACKING_URI=uri, MLFLOW_EXPERIMENT="pooled-fallback", DEFAULT_SYMBOL="SOL/USDT")
    trained = train_pooled_logged(_markets(), settings, candidate="har_xsq", models=["har", "ewma"])
    table = trained.backtests["ETH/USDT"].predictions
    table["har_xsq_pooled"] *= 3.0  # a forecast three times too high loses on ETH's window
    eth = promote_pair(trained, "ETH/USDT", settings)
    assert eth.decision is not None and not eth.decision.promote
    best = eth.scores.best_baseline
    assert best in {"har", "ewma"} and eth.baseline_promoted == best and eth.moved
    assert eth.result.baseline is not None and eth.result.champion_after == eth.result.baseline.version
    tags = get_client(settings).get_model_version(settings.model_name, eth.result.champion_after).tags
    assert tags["model_type"] == best and tags["data.pairs"] == "ETH/USDT" and "pooled.pair" not in tags
    assert alias_map(get_client(settings), settings.model_name) == {"champion-ethusdt": eth.result.champion_after}
    assert f"best baseline {best} promoted instead: champion-ethusdt → v" in promotion_line(eth)


def test_train_promote_on_the_cli_prints_each_pair_s_decision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    files = [_csv(m, tmp_path) for m in _markets()]
    args = ["train", "--data", str(files[0]), "--data", str(files[1]), "--candidate", "har_xsq", "--models", "har"]
    args.append("--promote")
    runner = CliRunner()
    assert runner.invoke(cli_app, [*args, "--no-register"]).exit_code == 2
    out = runner.invoke(cli_app, [*args, "--json"])
    assert out.exit_code == 0, out.output
    rows = {p["pair"]: p for p in json.loads(out.stdout)["promotions"]}
    assert list(rows) == ["BTC/USDT", "ETH/USDT"]  # the default pair first: it may move the global champion
    btc, eth = rows["BTC/USDT"], rows["ETH/USDT"]
    assert (btc["moved"], btc["aliases"], btc["champion_after"]) == (True, ["champion-btcusdt", "champion"], "1")
    # ETH has no champion of its own: gated against the global one, which the BTC-bound model just became
    assert eth["decision"]["champion_version"] == "1" and eth["aliases"] == ["champion-ethusdt"]
    assert eth["moved"] is False and eth["champion_after"] == "1"

    text = " ".join(runner.invoke(cli_app, args).output.split())  # same data again: ties move nothing
    assert "BTC/USDT: har_xsq_pooled → version 3: rejected" in text
    assert "champion-btcusdt and champion not moved (BTC/USDT stays on v1)" in text
    assert "ETH/USDT: har_xsq_pooled → version 4: rejected" in text
    assert "champion-ethusdt not moved (ETH/USDT stays on v1)" in text


def _markets() -> list[MarketData]:
    return [
        simulate(N_BARS, seed=7, symbol="BTC/USDT", end=END),
        simulate(N_BARS, seed=8, symbol="ETH/USDT", end=END),
    ]


def _csv(market: MarketData, directory: Path) -> Path:
    path = directory / f"{market.symbol.replace('/', '')}.csv"
    frame = market.frame.assign(symbol=market.symbol)
    frame.index = [ts.isoformat() for ts in frame.index]
    frame.index.name = "timestamp"
    frame.to_csv(path)
    return path
