"""The pipeline with PIPELINE_TRAIN_POOLED=true: one pooled model trained over every pair of the run, bound
to each pair, gated there against the pair's champion and promoted to `champion-<pair>` where it wins."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from pydantic import BaseModel

from crypto_mlops.config import TrainingSettings
from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.models.registry import alias_map, get_client
from crypto_mlops.pipeline import layout, pooled, tasks
from crypto_mlops.pipeline.manifests import DeployOutcome, EvaluateOutcome, TrainOutcome
from crypto_mlops.pipeline.runner import run_pipeline
from crypto_mlops.pipeline.store import open_store
from tests.pipeline.conftest import END, candles, write_csv

PAIRS = ["ETH/USDT", "BTC/USDT"]
BTC_LATER = 30  # hours of BTC candles a third run finds (>= PIPELINE_MIN_NEW_HOURS: BTC asks to retrain)


def _paths(workdir: Path, btc_new_hours: int = 0) -> dict[str, str]:
    """Seeds where the pooled har_xsq beats ETH's best baseline but not BTC's (both on their windows); BTC's
    file may hold `btc_new_hours` more candles of the same series (a later run's new data)."""
    btc = candles(4000 + BTC_LATER, seed=1, end=END + pd.Timedelta(hours=BTC_LATER))
    return {
        "ETH/USDT": str(write_csv(candles(4000, seed=2), workdir / "eth.csv")),
        "BTC/USDT": str(write_csv(btc.iloc[: 4000 + btc_new_hours], workdir / "btc.csv")),
    }


def _text(outcome: BaseModel) -> str:
    return json.dumps(outcome.model_dump(mode="json"), sort_keys=True)


@pytest.mark.slow
def test_one_pooled_model_is_trained_then_gated_and_promoted_per_pair(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_TRAIN_POOLED", "true")
    monkeypatch.setenv("PIPELINE_TRAIN_CANDIDATE", "har_xsq")  # poolable and fast
    paths = _paths(workdir)
    summary = run_pipeline(symbols=PAIRS, source="csv", csv_paths=paths, reload_api=False)
    assert summary.status == "succeeded", summary.reason
    assert summary.train is not None and summary.evaluate is not None and summary.deploy is not None

    # train: one pooled fit, one MLflow run tagged with both pairs, a bound version registered per pair
    run = summary.train.pooled
    assert run is not None and run.candidate == "har_xsq_pooled" and run.pairs == ["BTC/USDT", "ETH/USDT"]
    experiment = mlflow.get_experiment_by_name("crypto-volatility")
    assert experiment is not None
    runs = get_client().search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in runs] == [run.mlflow_run_id]
    assert runs[0].data.tags["pooled.pairs"] == "BTC/USDT,ETH/USDT"
    trained = summary.train.pairs
    assert [d.symbol for d in trained] == ["BTC/USDT", "ETH/USDT"]  # the default pair first
    assert summary.train.done and "retrained one har_xsq_pooled" in summary.train.reason
    for details in trained:
        models = details.trained
        assert models is not None and models.pooled_pairs == run.pairs
        assert models.candidate == "har_xsq_pooled" and models.baseline_version is not None  # the pair's fallback
        assert models.provenance.mlflow_run_id == run.mlflow_run_id
        assert models.provenance.pairs == [details.symbol]
        tags = get_client().get_model_version("crypto-predictor", models.candidate_version).tags
        assert tags["pooled.pair"] == tags["data.pairs"] == details.symbol
        assert tags["pooled.pairs"] == "BTC/USDT,ETH/USDT"
    assert trained[0].trained is not None and trained[1].trained is not None
    assert trained[0].trained.candidate_version != trained[1].trained.candidate_version

    # evaluate: each pair scored on its own window with every baseline
    evaluations = summary.evaluate.pairs
    assert [e.provenance.symbol for e in evaluations] == ["BTC/USDT", "ETH/USDT"]
    assert all(e.candidate == "har_xsq_pooled" and "har" in e.table for e in evaluations)
    assert evaluations[0].table["har_xsq_pooled"].qlike != evaluations[1].table["har_xsq_pooled"].qlike

    # deploy: each pair's own gate; champion-<pair> moves to the pair's bound version where it won
    btc, eth = summary.deploy.pairs
    assert (btc.symbol, btc.aliases) == ("BTC/USDT", ["champion-btcusdt", "champion"])
    assert (eth.symbol, eth.aliases) == ("ETH/USDT", ["champion-ethusdt"])
    for deployment, details in zip((btc, eth), trained, strict=True):
        assert details.trained is not None
        decision = deployment.decisions[0]
        assert decision.model == "har_xsq_pooled" and decision.version == details.trained.candidate_version
    btc_models, eth_models = trained[0].trained, trained[1].trained
    assert eth.decisions[0].promote, eth.reason  # the pooled model wins on ETH: ETH serves it
    assert eth.champion_version == eth_models.candidate_version
    assert not btc.decisions[0].promote, btc.reason  # it loses on BTC: BTC's best baseline, as in a per-pair run
    assert btc.decisions[1].model == btc_models.best_baseline and btc.decisions[1].promote, btc.reason
    assert btc.champion_version == btc_models.baseline_version
    aliases = alias_map(get_client(), "crypto-predictor")
    assert aliases == {
        "champion": btc.champion_version,
        "champion-btcusdt": btc.champion_version,
        "champion-ethusdt": eth.champion_version,
    }
    run_tags = get_client().get_run(run.mlflow_run_id).data.tags
    assert {"gate.decision.btcusdt", "gate.decision.ethusdt"} <= set(run_tags)

    # the manifests each step recorded read back as typed outcomes, equal to what the next step received
    store = open_store()
    for outcome, kind in (
        (summary.train, TrainOutcome),
        (summary.evaluate, EvaluateOutcome),
        (summary.deploy, DeployOutcome),
    ):
        assert outcome.key == layout.run_key(summary.run_id, f"{outcome.step}.json")
        stored = kind.model_validate(store.get_json(layout.MODELS, outcome.key))
        assert _text(stored) == _text(outcome)  # as text: the backtest tables hold NaN, which never equals itself

    # the Airflow task wrappers take the train step's JSON as it is passed between tasks
    evaluated = EvaluateOutcome.model_validate(tasks.evaluate(json.loads(_text(summary.train))))
    assert [e.pooled_pairs for e in evaluated.pairs] == [run.pairs, run.pairs]

    # a second run with no new candles: the run as a whole does not retrain, and says so per pair
    again = run_pipeline(symbols=PAIRS, source="csv", csv_paths=paths, reload_api=False)
    assert again.status == "succeeded", again.reason
    assert again.train is not None and not again.train.done and again.train.pooled is None
    assert again.train.reason.startswith("no retrain (pooled over BTC/USDT, ETH/USDT)")
    assert "BTC/USDT: no new candles" in again.train.reason and "ETH/USDT: no new candles" in again.train.reason
    assert alias_map(get_client(), "crypto-predictor") == aliases

    # new candles for BTC only: BTC asks to retrain, so the run retrains the pooled model on both pairs
    third = run_pipeline(symbols=PAIRS, source="csv", csv_paths=_paths(workdir, BTC_LATER), reload_api=False)
    assert third.status == "succeeded", third.reason
    assert third.train is not None and third.train.done and third.train.pooled is not None
    btc_details, eth_details = third.train.pairs
    assert btc_details.decision.retrain and not eth_details.decision.retrain
    assert btc_details.trained is not None and eth_details.trained is not None  # one fit: both pairs trained
    assert "because BTC/USDT: 30 h of new candles" in third.train.reason
    assert "ETH/USDT: no new" not in third.train.reason  # only the pairs that asked are the reason
    assert third.train.pooled.mlflow_run_id != run.mlflow_run_id


def test_a_candidate_that_cannot_be_pooled_fails_before_any_extract(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIPELINE_TRAIN_POOLED", "true")
    monkeypatch.setenv("PIPELINE_TRAIN_CANDIDATE", "garch")
    with pytest.raises(InvalidInput, match=r"candidate 'garch' cannot be pooled.*har_x, har_xsq, bilstm"):
        run_pipeline(symbols=PAIRS, source="csv", csv_paths=_paths(workdir), reload_api=False)
    assert not (workdir / "data").exists() or not any((workdir / "data").rglob("*.parquet"))


def test_pooled_only_with_the_setting_and_two_pairs() -> None:
    on = TrainingSettings(pooled=True, candidate="garch")
    assert pooled.is_pooled(PAIRS, on) and not pooled.is_pooled(PAIRS[:1], on)
    assert not pooled.is_pooled(PAIRS, TrainingSettings(pooled=False, candidate="garch"))
    pooled.check(PAIRS[:1], on)  # one pair: a per-pair run, any candidate
    pooled.check(PAIRS, TrainingSettings(pooled=True, candidate="bilstm"))
    with pytest.raises(InvalidInput, match="PIPELINE_TRAIN_POOLED=false"):
        pooled.check(PAIRS, on)
