"""`crypto-mlops backtest --data A --data B`: per-pair and pooled models, reported per pair."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crypto_mlops.cli.main import app
from crypto_mlops.data.sources.synthetic import simulate

runner = CliRunner()
END = pd.Timestamp("2024-03-31 23:00", tz="UTC")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = []
    for seed in (11, 12):
        frame = simulate(n_bars=2600, seed=seed, end=END).frame.reset_index()
        frame["timestamp"] = frame["timestamp"].map(lambda ts: ts.isoformat())
        path = tmp_path_factory.mktemp("pairs") / f"PAIR{seed}.csv"
        frame.to_csv(path, index=False)
        out.append(path)
    return out


def _args(files: list[Path], *extra: str) -> list[str]:
    return ["backtest", "--data", str(files[0]), "--data", str(files[1]), *extra]


def test_two_files_report_per_pair_with_pooled_models_side_by_side(files: list[Path], tmp_path: Path) -> None:
    preds = tmp_path / "preds.csv"
    result = runner.invoke(
        app, _args(files, "--models", "har,har_x,har_xsq", "--json", "--predictions-out", str(preds))
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["pooled"] == ["har_x_pooled", "har_xsq_pooled"]
    assert set(payload["pairs"]) == {"PAIR11", "PAIR12"}  # same symbol in both files: named by file
    for pair, answer in payload["pairs"].items():
        models = [r["model"] for r in answer["table"]]
        assert models == ["har", "har_x", "har_xsq", "har_x_pooled", "har_xsq_pooled"]
        out = pd.read_csv(tmp_path / f"preds.{pair}.csv")
        assert list(out.columns) == ["timestamp", *models] and len(out) == answer["split"]["test_origins"]


def test_two_files_walk_forward_table_per_pair(files: list[Path]) -> None:
    result = runner.invoke(
        app, _args(files, "--models", "har,har_x", "--pooled", "har_x", "--walk-forward", "--refit-every", "14d")
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("Model Confidence Set") == 2 and "har_x_pooled" in result.output
    assert "PAIR11" in result.output and "PAIR12" in result.output


def test_a_model_that_cannot_be_pooled_exits_2(files: list[Path]) -> None:
    result = runner.invoke(app, _args(files, "--models", "har", "--pooled", "garch"))
    assert result.exit_code == 2 and "cannot pool" in result.output
