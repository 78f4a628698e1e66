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


def test_symbols_from_a_source_are_pooled_like_files() -> None:
    # Synthetic candles: each pair has its own seeded path and volatility level (no network, no files).
    result = runner.invoke(
        app,
        [
            *("backtest", "--source", "synthetic", "--symbols", "btc/usdt, ETH/USDT", "--limit", "2600"),
            *("--models", "har,har_x", "--pooled", "har_x", "--json"),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["data"] == ["synthetic:BTC/USDT", "synthetic:ETH/USDT"]
    assert set(payload["pairs"]) == {"BTC/USDT", "ETH/USDT"}
    tables = {pair: {r["model"]: r["qlike"] for r in a["table"]} for pair, a in payload["pairs"].items()}
    assert all(set(t) == {"har", "har_x", "har_x_pooled"} for t in tables.values())
    assert tables["BTC/USDT"]["har"] != tables["ETH/USDT"]["har"]  # two different pairs, not one twice


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--symbols", "BTC/USDT,BTC/USDT"], "twice"),
        (["--symbols", "BTC/USDT,ETH/USDT", "--source", "csv"], "ccxt or synthetic"),
        ([], "--data FILE"),
    ],
)
def test_bad_pair_selection_exits_2_with_a_reason(extra: list[str], message: str) -> None:
    result = runner.invoke(app, ["backtest", "--models", "har", *extra])
    assert result.exit_code == 2
    assert message in result.output


def test_symbols_and_data_together_are_refused(files: list[Path]) -> None:
    result = runner.invoke(app, [*_args(files), "--symbols", "BTC/USDT,ETH/USDT", "--source", "synthetic"])
    assert result.exit_code == 2 and "not both" in result.output


def test_train_with_symbols_logs_one_pooled_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from crypto_mlops.config import get_settings
    from crypto_mlops.models.registry import get_client

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    get_settings.cache_clear()
    try:
        result = runner.invoke(
            app,
            [
                *("train", "--source", "synthetic", "--symbols", "BTC/USDT,ETH/USDT", "--limit", "2400"),
                *("--candidate", "har_x", "--models", "har", "--json"),
            ],
        )
        assert result.exit_code == 0, result.output
        payload = json.loads(result.stdout)
        assert payload["pairs"] == ["BTC/USDT", "ETH/USDT"]
        run = get_client(get_settings()).get_run(payload["run_id"])
        assert run.data.tags["pooled.pairs"] == "BTC/USDT,ETH/USDT"
    finally:
        get_settings.cache_clear()


def test_train_with_one_symbol_in_symbols_is_refused() -> None:
    result = runner.invoke(app, ["train", "--source", "synthetic", "--symbols", "BTC/USDT", "--no-register"])
    assert result.exit_code == 2 and "two pairs or more" in result.output
