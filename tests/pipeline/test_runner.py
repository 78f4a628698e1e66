"""`pipeline run` end to end on local buckets + a private SQLite MLflow registry (tiny training).

- first run: trains, registers, the gate decides, champion exists afterwards;
- second run with no new candles: does not retrain and says why; champion unchanged;
- a corrupted input: fails at validate with a readable reason, nothing committed, champion unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crypto_mlops.pipeline import history, layout
from crypto_mlops.pipeline.modelling import current_champion
from crypto_mlops.pipeline.runner import run_pipeline
from crypto_mlops.pipeline.store import open_store
from tests.pipeline.conftest import candles, write_csv

pytestmark = pytest.mark.slow


@pytest.fixture
def tiny_training(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PIPELINE_TRAIN_PROFILE", "tiny")
    monkeypatch.setenv("DATA_SOURCE", "csv")
    return workdir


def test_run_twice_then_corrupted_input(tiny_training: Path) -> None:
    full = candles(2600)
    csv = write_csv(full.iloc[:2500], tiny_training / "btc.csv")
    paths = {"BTC/USDT": str(csv)}

    first = run_pipeline(symbols=["BTC/USDT"], source="csv", csv_paths=paths)
    assert first.status == "succeeded", first.reason
    assert first.train.done and "no champion" in first.train.reason
    assert first.evaluate.done and "har" in first.evaluate.details.table
    assert first.deploy.reason and first.notify.reason.startswith("warning")  # nobody listens on API_URL
    champion = current_champion(None)
    assert champion is not None and first.deploy.details.champion_version == str(champion.version)
    assert "gate.reason" in dict(champion.tags)

    second = run_pipeline(symbols=["BTC/USDT"], source="csv", csv_paths=paths)
    assert second.status == "succeeded"
    assert not second.train.done
    assert "no retrain" in second.train.reason and "no new candles since the last training" in second.train.reason
    assert not second.evaluate.done and not second.deploy.done
    assert "unchanged" in second.deploy.reason and "no reload needed" in second.notify.reason
    assert str(current_champion(None).version) == str(champion.version)

    bad = full.copy()
    bad.iloc[2550:2560, bad.columns.get_loc("close")] = 0.0
    write_csv(bad, csv)
    third = run_pipeline(symbols=["BTC/USDT"], source="csv", csv_paths=paths)
    assert third.status == "failed" and third.failed_step == "validate"
    assert "candles with non-positive prices" in third.reason and "nothing committed" in third.reason
    store = open_store()
    series = "csv/BTCUSDT/1h"
    assert history.watermark(store, series) == full.index[2499]
    assert not store.list(layout.MODELS, f"runs/{third.run_id}/")
    assert str(current_champion(None).version) == str(champion.version)


def test_cli_run_reports_failure_in_one_line(tiny_training: Path) -> None:
    from crypto_mlops.cli.main import app

    frame = candles(300)
    frame.iloc[100:110, frame.columns.get_loc("high")] = frame["low"].iloc[100:110] * 0.5
    csv = write_csv(frame, tiny_training / "bad.csv")
    result = CliRunner().invoke(app, ["pipeline", "run", "--source", "csv", "--csv", f"BTC/USDT={csv}", "--json"])
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["failed_step"] == "validate" and "violate low <= open/close <= high" in summary["reason"]
    assert "Traceback" not in result.output


def test_deploy_refuses_when_champion_moved_since_evaluate(tiny_training: Path) -> None:
    """Two overlapping runs: the later deploy must not promote against a champion it never evaluated."""
    from crypto_mlops.models.registry import get_client, set_champion
    from crypto_mlops.pipeline import ingest, modelling

    csv = write_csv(candles(2500), tiny_training / "btc.csv")
    context = ingest.plan_run(symbols=["BTC/USDT"], source="csv", csv_paths={"BTC/USDT": str(csv)})
    manifest = ingest.validate(ingest.process(ingest.extract(context, "BTC/USDT")))
    trained = modelling.train(context, [manifest])
    evaluated = modelling.evaluate(trained)
    assert evaluated.details.champion_version is None  # nothing to compare with yet
    client = get_client()
    set_champion(client, "crypto-predictor", "champion", trained.details.trained.candidate_version, "another run")
    deployed = modelling.deploy(evaluated)
    assert not deployed.done and "champion moved" in deployed.reason
    assert str(current_champion().version) == trained.details.trained.candidate_version
