"""The CLI as a user runs it: real console script, real exit codes, no tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from crypto_mlops.cli.main import app

runner = CliRunner()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crypto_mlops.cli.main", *args], capture_output=True, text=True, timeout=60
    )


def test_help_everywhere() -> None:
    for args in ([], ["data"], ["signal"], ["data", "fetch"], ["data", "load"], ["data", "validate"]):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0, (args, result.output)
        assert "Usage" in result.output


def test_signal_synthetic_json_offline() -> None:
    result = runner.invoke(app, ["signal", "--source", "synthetic", "--symbol", "ETHUSDT", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["symbol"] == "ETH/USDT" and payload["source"] == "synthetic"
    assert 0 <= payload["risk_score"] <= 1 and payload["risk_level"] in ("low", "medium", "high")


@pytest.mark.data
def test_signal_from_shared_csv_with_explain(btc_csv: Path) -> None:
    result = runner.invoke(app, ["signal", "--source", "csv", "--data", str(btc_csv), "--explain", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["timestamp"] == "2021-06-10T00:00:00+00:00"
    assert len(payload["explain"]["features_tail"]) == 5


def test_ccxt_offline_fails_fast_with_one_line() -> None:
    result = _run("signal", "--source", "ccxt")
    assert result.returncode == 3
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("unavailable:") and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["signal", "--source", "synthetic", "--symbol", "??"], "invalid symbol"),
        (["signal", "--source", "synthetic", "--timeframe", "7x"], "invalid timeframe"),
        (["signal", "--source", "nowhere"], "unknown data source"),
        (["signal", "--source", "csv"], "needs a file"),
    ],
)
def test_bad_input_is_a_clear_error(args: list[str], message: str) -> None:
    result = _run(*args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("content", ["", "a,b\n1,2\n", "timestamp,open,high,low,close,volume\nx,1,1,1,1,1\n"])
def test_bad_csv_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    for args in (["data", "validate", str(path)], ["signal", "--source", "csv", "--data", str(path)]):
        result = _run(*args)
        assert result.returncode == 2 and result.stderr.startswith("error:"), result.stderr
        assert "Traceback" not in result.stderr


def test_data_load_writes_parquet_and_json_report(tmp_path: Path) -> None:
    out = tmp_path / "syn.parquet"
    result = runner.invoke(
        app, ["data", "load", "--source", "synthetic", "--limit", "300", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"] == 300
    import pandas as pd

    assert len(pd.read_parquet(out)) == 300


@pytest.mark.data
def test_validate_shared_file_reports_duplicates_and_gaps(btc_csv: Path) -> None:
    result = runner.invoke(app, ["data", "validate", str(btc_csv), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["duplicates_removed"] == 2649 and report["missing_bars"] == 16 and report["passed"]
