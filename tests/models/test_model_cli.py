"""`crypto-mlops train` and `crypto-mlops model list|info|promote|rollback` on an embedded MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crypto_mlops.cli.main import app

runner = CliRunner()


@pytest.fixture()
def registry_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("DATA_SOURCE", "synthetic")
    return tmp_path


def _train(*extra: str) -> dict:
    result = runner.invoke(
        app,
        [
            "train",
            "--source",
            "synthetic",
            "--limit",
            "2400",
            "--candidate",
            "naive",
            "--models",
            "naive",
            "--json",
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_train_then_list_info_promote_rollback(registry_env: Path) -> None:
    empty = runner.invoke(app, ["model", "list"])
    assert empty.exit_code == 0 and "no registered versions" in empty.output
    assert runner.invoke(app, ["model", "rollback"]).exit_code == 2

    first = _train()
    assert first["decision"]["promote"] is True and first["champion_after"] == "1"
    second = _train()
    assert second["decision"]["promote"] is False  # a tie does not move the champion
    assert "does not beat champion" in second["decision"]["reason"]
    assert second["champion_after"] == "1"

    rows = json.loads(runner.invoke(app, ["model", "list", "--json"]).stdout)
    assert [(r["version"], r["champion"], r["decision"]) for r in rows] == [
        ("1", True, "promoted"),
        ("2", False, "rejected"),
    ]
    info = json.loads(runner.invoke(app, ["model", "info", "--json"]).stdout)
    assert info["version"] == "1" and info["tags"]["gate.promote"] == "True"
    assert "naive.qlike" in info["metrics"]

    promoted = runner.invoke(app, ["model", "promote", "2", "--reason", "test"])
    assert promoted.exit_code == 0 and "1 → 2" in promoted.output
    rolled = runner.invoke(app, ["model", "rollback"])
    assert rolled.exit_code == 0 and "2 → 1" in rolled.output
    assert runner.invoke(app, ["model", "promote", "99"]).exit_code == 2
    assert runner.invoke(app, ["train", "--candidate", "prophet"]).exit_code == 2


def test_train_per_pair_moves_the_pair_alias_and_the_model_commands_take_a_pair(registry_env: Path) -> None:
    from crypto_mlops.models.registry import alias_map, get_client

    har = ("--symbol", "ETH/USDT", "--candidate", "har", "--models", "har")  # the last of a repeated option wins
    eth = _train(*har)
    assert eth["decision"]["promote"] is True and eth["champion_after"] == "1"
    assert alias_map(get_client(), "crypto-predictor") == {"champion-ethusdt": "1"}  # not the global champion
    btc = _train()  # the default pair: its own alias and the global champion, as before pairs existed
    assert btc["decision"]["promote"] is True and btc["champion_after"] == "2"
    again = _train(*har)  # gated against ETH's own champion (a tie: rejected)
    assert again["decision"]["champion_version"] == "1" and again["decision"]["promote"] is False
    assert alias_map(get_client(), "crypto-predictor") == {
        "champion-ethusdt": "1",
        "champion-btcusdt": "2",
        "champion": "2",
    }

    rows = json.loads(runner.invoke(app, ["model", "list", "--json"]).stdout)
    assert [(r["version"], r["champion"], r["aliases"], r["pairs"]) for r in rows] == [
        ("1", False, ["champion-ethusdt"], "ETH/USDT"),
        ("2", True, ["champion", "champion-btcusdt"], "BTC/USDT"),
        ("3", False, [], "ETH/USDT"),
    ]
    info = json.loads(runner.invoke(app, ["model", "info", "--pair", "ETH/USDT", "--json"]).stdout)
    assert info["version"] == "1" and info["tags"]["data.pairs"] == "ETH/USDT"

    promoted = runner.invoke(app, ["model", "promote", "3", "--pair", "ethusdt"])
    assert promoted.exit_code == 0 and "1 → 3" in promoted.output and "champion-ethusdt" in promoted.output
    rolled = runner.invoke(app, ["model", "rollback", "--pair", "ETH/USDT"])
    assert rolled.exit_code == 0 and "3 → 1" in rolled.output
    assert alias_map(get_client(), "crypto-predictor")["champion"] == "2"  # the global champion never moved
