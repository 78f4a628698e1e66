"""`crypto-mlops train` and the pipeline promote through the same path: the same version tags.

Both train a tiny BiLSTM on the same candles (each with its own embedded MLflow registry) and let
the gate decide; the candidate version and the champion of either registry carry the same tag keys.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crypto_mlops.models.gate import GateDecision
from crypto_mlops.models.provenance import REGISTRATION_TAGS
from crypto_mlops.models.registry import champion_version, get_client
from crypto_mlops.pipeline.runner import run_pipeline
from tests.pipeline.conftest import candles, write_csv

pytestmark = pytest.mark.slow

# Written by set_champion on the version the alias points to (whichever path moved it).
CHAMPION_TAGS = {"promoted_at", "promotion_reason"}


def _tags(version: str) -> dict[str, str]:
    return dict(get_client().get_model_version("crypto-predictor", version).tags)


def _champion_tags() -> dict[str, str]:
    champion = champion_version(get_client(), "crypto-predictor", "champion")
    assert champion is not None
    return _tags(str(champion.version))


def test_train_cli_and_pipeline_write_the_same_version_tags(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crypto_mlops.cli.main import app
    from crypto_mlops.config import get_settings

    monkeypatch.setenv("PIPELINE_TRAIN_PROFILE", "tiny")
    csv = write_csv(candles(2500), workdir / "btc.csv")
    summary = run_pipeline(symbols=["BTC/USDT"], source="csv", csv_paths={"BTC/USDT": str(csv)}, reload_api=False)
    assert summary.status == "succeeded", summary.reason
    assert summary.train is not None and summary.train.details is not None
    trained = summary.train.details.trained
    assert trained is not None and trained.candidate == "bilstm"
    pipeline_candidate = _tags(trained.candidate_version)
    pipeline_champion = _champion_tags()

    (workdir / "cli").mkdir()
    monkeypatch.chdir(workdir / "cli")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{workdir / 'cli' / 'mlflow.db'}")
    get_settings.cache_clear()
    args = ["train", "--data", str(csv), "--candidate", "bilstm", "--tiny", "--models", "naive,har,har_x", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    cli_candidate = _tags(json.loads(result.stdout)["version"])
    cli_champion = _champion_tags()

    expected = set(REGISTRATION_TAGS) | {f"gate.{field}" for field in GateDecision.model_fields}
    for tags in (pipeline_candidate, pipeline_champion, cli_candidate, cli_champion):
        assert set(tags) - CHAMPION_TAGS == expected
    assert pipeline_candidate["pipeline.role"] == cli_candidate["pipeline.role"] == "candidate"
    assert pipeline_candidate["model_type"] == cli_candidate["model_type"] == "bilstm"
    assert pipeline_candidate["pipeline.run_id"] == summary.run_id and cli_candidate["pipeline.run_id"] == ""
    assert pipeline_candidate["data.sha256"] == trained.provenance.sha256
