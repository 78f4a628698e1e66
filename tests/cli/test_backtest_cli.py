"""`crypto-mlops backtest` on the CSV layouts users have, with real exit codes and output files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from crypto_mlops.cli.main import app
from crypto_mlops.data.sources.synthetic import simulate

runner = CliRunner()
MODELS = "naive,ewma,har,har_calendar"


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return simulate(n_bars=2600, seed=11, end=pd.Timestamp("2024-03-31 23:00", tz="UTC")).frame


def _write_timestamp_layout(frame: pd.DataFrame, path: Path, tz: str) -> Path:
    out = frame.copy()
    out.index = out.index.tz_convert(tz)
    out = out.reset_index()
    out["timestamp"] = out["timestamp"].map(lambda ts: ts.isoformat())  # e.g. 2024-01-01T02:00:00+02:00
    out.iloc[::-1].to_csv(path, index=False)  # newest first, as exports often are
    return path


def _write_date_layout(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.reset_index().rename(columns={"timestamp": "date"})
    out["date"] = out["date"].dt.strftime("%Y-%m-%d %H:%M:%S")
    out.to_csv(path, index=False)
    return path


def _backtest(csv: Path, *extra: str) -> dict:
    result = runner.invoke(app, ["backtest", "--data", str(csv), "--models", MODELS, "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_timestamp_layout_with_offset_json_and_predictions_file(candles: pd.DataFrame, tmp_path: Path) -> None:
    csv = _write_timestamp_layout(candles, tmp_path / "candles.csv", "Europe/Berlin")
    preds = tmp_path / "out" / "preds.csv"
    payload = _backtest(csv, "--train-frac", "0.7", "--predictions-out", str(preds))
    table = {r["model"]: r for r in payload["table"]}
    assert set(table) == set(MODELS.split(","))
    assert table["har"]["qlike_vs_har"] == 1.0
    for r in table.values():
        assert r["qlike"] > 0 and r["mse"] > 0 and r["mae"] > 0 and 0 <= r["mz_r2"] <= 1
    assert payload["split"]["dm_hac_lags"] >= 24
    out = pd.read_csv(preds)
    assert list(out.columns) == ["timestamp", *MODELS.split(",")]
    assert out["timestamp"].str.endswith("+00:00").all()  # converted to UTC
    assert len(out) == payload["split"]["test_origins"]
    assert pd.Timestamp(out["timestamp"].iloc[0]) == pd.Timestamp(payload["split"]["test_start"])
    assert ((out[MODELS.split(",")] > 0) & (out[MODELS.split(",")] < 1)).all().all()  # decimals, not %


def test_date_layout_gives_the_same_backtest(candles: pd.DataFrame, tmp_path: Path) -> None:
    a = _backtest(_write_timestamp_layout(candles, tmp_path / "a.csv", "UTC"))
    b = _backtest(_write_date_layout(candles, tmp_path / "b.csv"))
    assert a["table"] == b["table"]
    assert a["split"] == b["split"]


def test_human_table_is_printed(candles: pd.DataFrame, tmp_path: Path) -> None:
    csv = _write_date_layout(candles, tmp_path / "c.csv")
    result = runner.invoke(app, ["backtest", "--data", str(csv), "--models", "naive,har"])
    assert result.exit_code == 0, result.output
    assert "QLIKE" in result.output and "har" in result.output and "not trading advice" in result.output


def test_bad_input_exits_2_without_traceback(candles: pd.DataFrame, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["backtest", "--data", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "not found" in missing.output
    csv = _write_date_layout(candles, tmp_path / "d.csv")
    unknown = runner.invoke(app, ["backtest", "--data", str(csv), "--models", "naive,prophet"])
    assert unknown.exit_code == 2 and "prophet" in unknown.output
    short = _write_date_layout(candles.iloc[:300], tmp_path / "short.csv")
    too_short = runner.invoke(app, ["backtest", "--data", str(short), "--models", "naive,har"])
    assert too_short.exit_code == 2, too_short.output
    assert "Traceback" not in too_short.output


@pytest.mark.data
def test_backtest_on_shared_btc_baselines(btc_csv: Path) -> None:
    payload = _backtest(btc_csv)
    assert payload["split"]["filled_bars"] == 16
    assert payload["split"]["test_origins"] > 9000
    table = {r["model"]: r for r in payload["table"]}
    assert table["naive"]["qlike"] > table["har"]["qlike"]  # persistence is the weakest


def test_walk_forward_json_and_predictions_line_up_with_the_single_split(candles: pd.DataFrame, tmp_path: Path) -> None:
    csv = _write_date_layout(candles, tmp_path / "wf.csv")
    single = _backtest(csv)
    preds = tmp_path / "wf_preds.csv"
    payload = _backtest(csv, "--walk-forward", "--refit-every", "7d", "--predictions-out", str(preds))
    assert payload["mode"] == "walk-forward"
    assert payload["split"]["test_start"] == single["split"]["test_start"]
    assert payload["split"]["test_origins"] == single["split"]["test_origins"]
    assert payload["split"]["window"] == "expanding"
    names = MODELS.split(",")
    assert [r["model"] for r in payload["table"]] == names
    assert set(payload["mcs"]["pvalues"]) == set(names)
    assert set(payload["fit_seconds"]) == set(names)
    for r in payload["table"]:
        assert 0 <= r["cov80"] <= 1 and r["pinball"] > 0 and isinstance(r["in_mcs"], bool)
    out = pd.read_csv(preds)
    quantile_cols = [f"{n}{s}" for n in names for s in ("_q10", "_q50", "_q90")]
    assert list(out.columns) == ["timestamp", *names, *quantile_cols]
    assert len(out) == payload["split"]["test_origins"]


def test_walk_forward_table_and_bad_options(candles: pd.DataFrame, tmp_path: Path) -> None:
    csv = _write_date_layout(candles, tmp_path / "wf2.csv")
    args = ["backtest", "--data", str(csv), "--models", "naive,har", "--walk-forward"]
    shown = runner.invoke(app, [*args, "--window", "rolling:30d", "--start", "2024-03-20"])
    assert shown.exit_code == 0, shown.output
    assert "MCS" in shown.output and "cov" in shown.output and "rolling:30d" in shown.output
    bad = runner.invoke(app, [*args, "--window", "sliding"])
    assert bad.exit_code == 2 and "rolling" in bad.output
    late = runner.invoke(app, [*args, "--start", "2030-01-01"])
    assert late.exit_code == 2 and "Traceback" not in late.output


def test_walk_forward_retrain_schedule_for_learned_models(candles: pd.DataFrame, tmp_path: Path) -> None:
    csv = _write_date_layout(candles, tmp_path / "wf3.csv")
    args = ["--models", "har,bilstm", "--tiny", "--walk-forward", "--refit-every", "7d", "--start", "2024-03-10"]
    payload = _backtest(csv, *args, "--retrain-every", "14d")
    assert payload["split"]["retrain_every"] == "14d" and payload["split"]["refits"] == 3
    assert payload["fits"] == {"har": 3, "bilstm": 2}  # bilstm retrained on 2024-03-10 and 2024-03-24 only
    bad = runner.invoke(app, ["backtest", "--data", str(csv), *args, "--retrain-every", "-3d"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
