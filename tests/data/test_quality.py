import json

import numpy as np
import pandas as pd

from crypto_mlops.data.quality import regularize, repair_bogus_opens, validate
from crypto_mlops.data.sources.synthetic import simulate


def _frame(n: int = 200) -> pd.DataFrame:
    return simulate(n, seed=1, end="2024-06-01").frame


def test_clean_frame_passes_and_serialises() -> None:
    report = validate(_frame())
    assert report.passed and report.problems == []
    assert json.loads(report.to_json())["passed"] is True


def test_detects_each_problem() -> None:
    frame = _frame()
    frame.iloc[5, frame.columns.get_loc("close")] = -1.0
    frame.iloc[6, frame.columns.get_loc("high")] = frame.iloc[6]["low"] * 0.5  # high below low
    frame.iloc[7, frame.columns.get_loc("volume")] = 0.0
    frame.iloc[8, frame.columns.get_loc("close")] = frame.iloc[7]["close"] * 2  # +69 % in an hour
    report = validate(frame.drop(index=frame.index[100:130]))
    assert report.non_positive_prices == 1
    assert report.ohlc_inconsistent >= 2
    assert report.zero_volume == 1
    assert report.extreme_returns >= 1
    assert report.missing_bars == 30 and len(report.gaps) == 1
    assert not report.passed
    assert any("non-positive" in p for p in report.problems)
    assert any("missing" in p for p in report.problems)  # 30 / 200 > 5 %


def test_too_few_rows_and_empty() -> None:
    assert not validate(_frame(20)).passed
    assert validate(_frame().iloc[:0]).problems == ["no candles"]


def test_regularize_fills_gaps_with_flat_candles() -> None:
    frame = _frame()
    holed = frame.drop(index=frame.index[[50, 51]])
    filled, inserted = regularize(holed)
    assert len(filled) == len(frame) and inserted == list(frame.index[[50, 51]])
    row = filled.loc[frame.index[50]]
    assert row["volume"] == 0 and row["open"] == row["close"] == holed.loc[frame.index[49], "close"]


def test_bogus_open_is_repaired() -> None:
    frame = _frame(60)
    frame.iloc[0, frame.columns.get_loc("open")] = frame.iloc[0]["close"] * 3.76
    frame.iloc[0, frame.columns.get_loc("high")] = frame.iloc[0]["open"]
    repaired, stamps = repair_bogus_opens(frame)
    assert stamps == [frame.index[0].isoformat()]
    assert repaired.iloc[0]["open"] == frame.iloc[0]["close"]
    assert np.isclose(repaired.iloc[0]["high"], max(repaired.iloc[0]["open"], repaired.iloc[0]["close"]))
    pd.testing.assert_frame_equal(repaired.iloc[1:], frame.iloc[1:])
