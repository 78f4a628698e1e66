"""End to end on a real `mlflow server` (PostgreSQL backend, S3 artifacts on SeaweedFS):
train (tiny config) -> register -> gate -> load by alias -> rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest

from crypto_mlops.config import Settings
from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.models.bilstm import BiLSTMConfig
from crypto_mlops.models.inference import load_predictor
from crypto_mlops.models.registry import champion_version, get_client, list_versions, promote, rollback
from crypto_mlops.models.training import train_and_register

pytestmark = pytest.mark.integration


def test_train_register_gate_load_by_alias_and_rollback(
    mlflow_server: Any, s3_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.tracking_uri)
    settings = Settings(MLFLOW_TRACKING_URI=mlflow_server.tracking_uri, MLFLOW_EXPERIMENT="registry-integration")
    data = simulate(n_bars=2400, seed=5, end=pd.Timestamp("2024-05-31 23:00", tz="UTC"))

    first = train_and_register(
        data, settings, candidate="bilstm", bilstm_config=BiLSTMConfig.tiny(), models=["naive", "har"]
    )
    assert first.decision is not None
    client = get_client(settings)
    champion = champion_version(client, settings.model_name, settings.model_alias)
    assert champion is not None  # either the BiLSTM or, if it lost, the best baseline
    expected = first.version if first.decision.promote else first.baseline_version
    assert str(champion.version) == expected == first.champion_after
    tags = client.get_model_version(settings.model_name, first.version).tags
    assert tags["gate.promote"] == str(first.decision.promote)
    assert tags["model_type"] == "bilstm" and float(tags["gate.best_baseline_qlike"]) > 0
    assert tags["data.sha256"] == first.fingerprint["sha256"]

    # artifacts went through the server into the S3 bucket
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket="mlflow").get("Contents", [])]
    assert any(k.endswith("state.json") for k in keys)
    assert any(k.endswith("forecast_vs_realized.html") for k in keys)

    # load by alias, as serving does
    candles = data.frame.tz_convert(None).reset_index()
    pyfunc = mlflow.pyfunc.load_model(f"models:/{settings.model_name}@{settings.model_alias}")
    last = pyfunc.predict(candles, params={"last_only": True})
    assert len(last) == 1 and last["predicted_rv_24h"].iloc[0] > 0
    predictor = load_predictor(settings)
    assert predictor.model_version == str(champion.version)
    pred = predictor.predict(data.frame, "synthetic")
    assert pred.predicted_rv_24h == pytest.approx(last["predicted_rv_24h"].iloc[0])
    assert pred.model_name == "crypto-predictor" and pred.source == "synthetic"

    # manual promote of the other version, then rollback restores the gate's choice
    other = first.version if str(champion.version) != first.version else None
    if other is None:  # the BiLSTM won: promote the naive baseline by hand to have something to roll back
        second = train_and_register(data, settings, candidate="naive", models=["naive"])
        other = second.version
    promote(settings, other, "integration test")
    assert str(champion_version(client, settings.model_name, "champion").version) == other
    assert rollback(settings) == {"from": other, "to": str(champion.version)}
    rows = {r["version"]: r for r in list_versions(settings)}
    assert rows[str(champion.version)]["champion"]
