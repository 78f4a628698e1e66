"""Data-quality report for a candle frame, and the repairs the loader applies.

The report is a typed object (and JSON) that says what was found and what was done about it:
duplicates removed, gaps (and how they are filled), OHLC consistency, non-positive prices, zero
volume, extreme returns and bogus opens.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from crypto_mlops.data.schema import OHLCV_COLUMNS, timeframe_delta

EXTREME_RETURN = 0.25  # |log return| per bar flagged as extreme
BOGUS_OPEN = 0.5  # |log(open / previous close)| beyond which the open is treated as a data error
MAX_GAP_SHARE = 0.05  # more missing bars than this fails validation
MIN_ROWS = 50


class Gap(BaseModel):
    after: str = Field(description="Open time of the last candle before the gap (UTC ISO).")
    missing: int = Field(description="Number of missing candles.")


class QualityReport(BaseModel):
    rows_in: int = Field(description="Rows read from the source, duplicates included.")
    rows: int = Field(description="Unique candles after cleaning.")
    start: str | None = None
    end: str | None = None
    timeframe: str = "1h"
    duplicates_removed: int = 0
    duplicate_conflicts: int = Field(0, description="Duplicated candles whose close differed (> 0.1 %).")
    gaps: list[Gap] = Field(default_factory=list)
    missing_bars: int = 0
    gap_fill: str = "missing candles are inserted at feature time with the last close carried forward and volume 0"
    ohlc_inconsistent: int = Field(0, description="Rows where high < max(open, close) or low > min(open, close).")
    non_positive_prices: int = 0
    nan_values: int = 0
    zero_volume: int = 0
    extreme_returns: int = Field(0, description=f"Bars with |log return| > {EXTREME_RETURN}.")
    bogus_opens_repaired: list[str] = Field(
        default_factory=list, description=f"Candles whose open was > {BOGUS_OPEN} log away from the previous close."
    )
    problems: list[str] = Field(default_factory=list, description="Reasons the data fails validation (empty = passed).")
    warnings: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_json(self) -> str:
        payload = self.model_dump()
        payload["passed"] = self.passed
        return json.dumps(payload, indent=2)


def repair_bogus_opens(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Replace opens that are far from the previous close (e.g. the first BTC candle's 16199.91).

    Close-to-close returns never use `open`, but ranges and ATR do, so a bogus open would poison them.
    """
    out = frame.copy()
    reference = out["close"].shift(1)
    reference.iloc[0] = out["close"].iloc[0]
    deviation = np.log(out["open"] / reference).abs()
    bad = deviation > BOGUS_OPEN
    if not bad.any():
        return out, []
    old_open = out.loc[bad, "open"]
    out.loc[bad, "open"] = reference[bad]
    # The bogus open usually dragged the high (or low) with it: rebuild them from the sane prices.
    high_was_open = bad & np.isclose(out["high"], old_open.reindex(out.index))
    low_was_open = bad & np.isclose(out["low"], old_open.reindex(out.index))
    out.loc[high_was_open, "high"] = out.loc[high_was_open, ["open", "close"]].max(axis=1)
    out.loc[low_was_open, "low"] = out.loc[low_was_open, ["open", "close"]].min(axis=1)
    return out, [ts.isoformat() for ts in out.index[bad]]


def find_gaps(index: pd.DatetimeIndex, timeframe: str) -> list[Gap]:
    step = timeframe_delta(timeframe)
    if len(index) < 2:
        return []
    deltas = index[1:] - index[:-1]
    gaps = []
    for position in np.flatnonzero(deltas > step):
        missing = int(deltas[position] / step) - 1
        if missing > 0:
            gaps.append(Gap(after=index[position].isoformat(), missing=missing))
    return gaps


def validate(
    frame: pd.DataFrame,
    timeframe: str = "1h",
    rows_in: int | None = None,
    duplicates_removed: int = 0,
    duplicate_conflicts: int = 0,
    bogus_opens: list[str] | None = None,
) -> QualityReport:
    """Check a canonical frame; `problems` lists what makes it unusable, `warnings` what is merely odd."""
    report = QualityReport(
        rows_in=rows_in if rows_in is not None else len(frame),
        rows=len(frame),
        timeframe=timeframe,
        duplicates_removed=duplicates_removed,
        duplicate_conflicts=duplicate_conflicts,
        bogus_opens_repaired=bogus_opens or [],
    )
    if frame.empty:
        report.problems.append("no candles")
        return report
    report.start, report.end = frame.index[0].isoformat(), frame.index[-1].isoformat()
    values = frame[OHLCV_COLUMNS]
    report.nan_values = int(values.isna().sum().sum())
    report.non_positive_prices = int((values[["open", "high", "low", "close"]] <= 0).any(axis=1).sum())
    body_high = values[["open", "close"]].max(axis=1)
    body_low = values[["open", "close"]].min(axis=1)
    tolerance = 1e-9 * body_high
    report.ohlc_inconsistent = int(
        ((values["high"] < body_high - tolerance) | (values["low"] > body_low + tolerance)).sum()
    )
    report.zero_volume = int((values["volume"] <= 0).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ret = np.log(values["close"]).diff()
    report.extreme_returns = int((log_ret.abs() > EXTREME_RETURN).sum())
    report.gaps = find_gaps(pd.DatetimeIndex(frame.index), timeframe)
    report.missing_bars = sum(gap.missing for gap in report.gaps)

    if not frame.index.is_monotonic_increasing or frame.index.has_duplicates:
        report.problems.append("timestamps are not sorted and unique")
    if report.rows < MIN_ROWS:
        report.problems.append(f"only {report.rows} candles (need at least {MIN_ROWS})")
    if report.nan_values:
        report.problems.append(f"{report.nan_values} missing (NaN) values")
    if report.non_positive_prices:
        report.problems.append(f"{report.non_positive_prices} candles with non-positive prices")
    if report.ohlc_inconsistent > max(1, 0.001 * report.rows):
        report.problems.append(f"{report.ohlc_inconsistent} candles violate low <= open/close <= high")
    expected = report.rows + report.missing_bars
    if expected and report.missing_bars / expected > MAX_GAP_SHARE:
        report.problems.append(
            f"{report.missing_bars} of {expected} candles missing ({report.missing_bars / expected:.1%} > "
            f"{MAX_GAP_SHARE:.0%})"
        )
    if report.zero_volume:
        report.warnings.append(f"{report.zero_volume} candles with zero volume (kept)")
    if report.extreme_returns:
        report.warnings.append(f"{report.extreme_returns} bars with |log return| > {EXTREME_RETURN} (kept)")
    if report.missing_bars:
        report.warnings.append(f"{report.missing_bars} missing candles in {len(report.gaps)} gaps")
    return report


def regularize(frame: pd.DataFrame, timeframe: str = "1h") -> tuple[pd.DataFrame, list[pd.Timestamp]]:
    """Reindex to the regular grid; missing candles carry the last close forward with zero volume."""
    if frame.empty:
        return frame.copy(), []
    grid = pd.date_range(frame.index[0], frame.index[-1], freq=timeframe_delta(timeframe), name="timestamp")
    if len(grid) == len(frame):
        return frame.copy(), []
    out = frame.reindex(grid)
    missing = out["close"].isna()
    last_close = out["close"].ffill()
    for column in ("open", "high", "low", "close"):
        out[column] = out[column].fillna(last_close)
    out["volume"] = out["volume"].fillna(0.0)
    return out, list(grid[missing.to_numpy()])
