"""extract -> process -> validate on local buckets: incremental, keyed by run, commit only when valid."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crypto_mlops.pipeline import history, ingest, layout
from crypto_mlops.pipeline.errors import ValidationFailed
from crypto_mlops.pipeline.store import open_store
from tests.pipeline.conftest import candles, write_csv


def _ingest(csv: Path, run_id: str):
    context = ingest.plan_run(run_id=run_id, symbols=["BTC/USDT"], source="csv", csv_paths={"BTC/USDT": str(csv)})
    manifest = ingest.extract(context, "BTC/USDT")
    return ingest.validate(ingest.process(manifest))


def test_first_run_commits_everything_second_run_finds_nothing(workdir: Path) -> None:
    csv = write_csv(candles(1500), workdir / "btc.csv")
    first = _ingest(csv, "run-1")
    assert first.new_rows == 1500 and first.committed and first.passed
    store = open_store()
    series = ingest.series_of(first)
    assert history.watermark(store, series) == candles(1500).index[-1]
    processed = store.get_parquet(layout.PROCESSED, first.processed_key)
    assert {"close", "vol24", "rv24", "filled"} <= set(processed.columns)
    report = store.get_json(layout.REPORTS, first.report_key)
    assert report["passed"] is True and report["rows"] == 1500

    second = _ingest(csv, "run-2")
    assert second.new_rows == 0 and not second.committed and second.staged_key is None
    assert "no new candles" in second.notes[-1]
    assert len(history.commits(store, series)) == 1


def test_incremental_extract_takes_only_newer_candles_and_keys_by_run(workdir: Path) -> None:
    full = candles(1600)
    csv = write_csv(full.iloc[:1500], workdir / "btc.csv")
    first = _ingest(csv, "run-a")
    write_csv(full, csv)  # 100 new hourly candles appended
    second = _ingest(csv, "run-b")
    assert second.new_rows == 100
    assert second.first_new == full.index[1500].isoformat()
    assert first.staged_key != second.staged_key and "run-b" in second.staged_key
    store = open_store()
    merged = history.load_history(store, ingest.series_of(second))
    pd.testing.assert_index_equal(merged.index, full.index, check_names=False, check_freq=False)
    assert second.history_rows == 1600
    rows = store.get_parquet(layout.PROCESSED, second.processed_key)
    assert len(rows) == 100 and rows["vol24"].notna().all()  # new rows only, warmed up by the stored history


def test_corrupted_input_fails_validate_with_reason_and_commits_nothing(workdir: Path) -> None:
    full = candles(1600)
    csv = write_csv(full.iloc[:1500], workdir / "btc.csv")
    first = _ingest(csv, "good")
    bad = full.copy()
    bad.iloc[1520:1530, bad.columns.get_loc("close")] = -5.0  # negative prices
    bad.iloc[1540:1550, bad.columns.get_loc("high")] = bad["low"].iloc[1540:1550] * 0.5  # high < low
    write_csv(bad, csv)
    with pytest.raises(ValidationFailed) as failure:
        _ingest(csv, "bad")
    reason = failure.value.reason
    assert "non-positive prices" in reason and "low <= open/close <= high" in reason
    store = open_store()
    series = ingest.series_of(first)
    assert [c["run_id"] for c in history.commits(store, series)] == ["good"]
    assert history.watermark(store, series) == full.index[1499]
    report = store.get_json(layout.REPORTS, failure.value.report_key)
    assert report["passed"] is False and report["non_positive_prices"] == 10


def test_plan_run_rejects_unknown_source_and_missing_csv(workdir: Path) -> None:
    from crypto_mlops.data.errors import InvalidInput

    with pytest.raises(InvalidInput, match="unknown source"):
        ingest.plan_run(source="parquet")
    with pytest.raises(InvalidInput, match="no CSV file for ETH/USDT"):
        ingest.plan_run(symbols=["ETH/USDT"], source="csv")


def test_csv_dir_resolves_one_file_per_symbol(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = workdir / "csvs"
    folder.mkdir()
    write_csv(candles(200), folder / "Binance_BTCUSDT_1h.csv")
    write_csv(candles(200, seed=3), folder / "Binance_ETHUSDT_1h.csv")
    monkeypatch.setenv("PIPELINE_CSV_DIR", str(folder))
    context = ingest.plan_run(symbols=["BTCUSDT", "eth/usdt"], source="csv")
    assert context.symbols == ["BTC/USDT", "ETH/USDT"]
    assert context.csv_paths["ETH/USDT"].endswith("Binance_ETHUSDT_1h.csv")


def test_airflow_run_ids_become_safe_keys() -> None:
    assert layout.safe_run_id("scheduled__2026-11-26T06:00:00+00:00") == "scheduled__2026-11-26T06-00-00-00-00"
    assert layout.new_run_id() != layout.new_run_id()


def test_synthetic_increments_continue_the_stored_price_path(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A later simulation is a different path: its level is carried over so the seam is an ordinary return."""
    import numpy as np

    import crypto_mlops.pipeline.ingest as ingest_module
    from crypto_mlops.data.sources.synthetic import simulate

    end = pd.Timestamp("2026-01-01", tz="UTC")
    runs = iter([(1, end - pd.Timedelta(hours=10)), (2, end)])  # (seed, end): two unrelated paths
    monkeypatch.setenv("PIPELINE_INITIAL_BARS", "500")

    def fake_load(source, symbol, timeframe, limit=None, settings=None, **_):
        seed, until = next(runs)
        return simulate(n_bars=limit, seed=seed, symbol=symbol, end=until)

    monkeypatch.setattr(ingest_module, "load_market_data", fake_load)
    raw_gap = np.log(
        simulate(500, seed=2, end=end).frame["close"].iloc[-10]
        / simulate(500, seed=1, end=end - pd.Timedelta(hours=10)).frame["close"].iloc[-1]
    )
    assert abs(raw_gap) > 0.1  # without stitching the seam would be a >10 % jump
    for _ in range(2):
        context = ingest.plan_run(symbols=["BTC/USDT"], source="synthetic")
        last = ingest.validate(ingest.process(ingest.extract(context, "BTC/USDT")))
    assert last.new_rows == 10 and last.committed
    stored = history.load_history(open_store(), ingest.series_of(last))
    seam = abs(np.log(stored["close"]).diff().iloc[-10])
    assert seam < 0.05, f"price jump of {seam:.3f} log at the seam"
