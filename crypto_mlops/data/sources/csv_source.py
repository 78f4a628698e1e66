"""Load candles from CSV files.

Layouts understood (detected from the header):
- CryptoDataDownload exports (`unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount`),
  with or without the leading URL line, newest-first or not, seconds and milliseconds mixed;
- Binance klines dumps (no header, 12 columns, open time in ms or µs);
- generic `timestamp,open,high,low,close,volume` (ISO-8601 with offset, or epoch numbers);
- `date,open,high,low,close,volume`.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.quality import repair_bogus_opens, validate
from crypto_mlops.data.schema import OHLCV_COLUMNS, epoch_to_datetime, normalize_symbol, timeframe_hours

BINANCE_KLINE_COLUMNS = [
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "trades",
    "taker_base",
    "taker_quote",
    "ignore",
]
_FILE_SYMBOL_RE = re.compile(r"([A-Z0-9]{2,10}(?:USDT|USDC|BUSD|USD|EUR|BTC|ETH))", re.IGNORECASE)
_TIMEFRAME_FROM_HOURS = {1 / 60: "1m", 0.25: "15m", 0.5: "30m", 1.0: "1h", 4.0: "4h", 24.0: "1d"}


def _read_raw(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise InvalidInput(f"CSV file not found: {path}")
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and lines[0].lower().startswith("http"):  # CryptoDataDownload's URL line
        lines = lines[1:]
    if not lines:
        raise InvalidInput(f"CSV file is empty: {path}")
    first = lines[0].split(",")
    try:
        float(first[0])
        has_header = False
    except ValueError:
        has_header = True
    body = "\n".join(lines)
    try:
        if has_header:
            return pd.read_csv(io.StringIO(body))
        raw = pd.read_csv(io.StringIO(body), header=None)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"malformed CSV {path.name}: {exc}") from exc
    if raw.shape[1] >= 6:
        raw.columns = BINANCE_KLINE_COLUMNS[: raw.shape[1]] + [f"extra_{i}" for i in range(raw.shape[1] - 12)]
        return raw
    raise InvalidInput(f"malformed CSV {path.name}: no header and {raw.shape[1]} columns (need >= 6)")


def _pick_volume(columns: dict[str, str], base: str | None) -> str:
    if "volume" in columns:
        return columns["volume"]
    if base and f"volume {base.lower()}" in columns:
        return columns[f"volume {base.lower()}"]
    candidates = [name for key, name in columns.items() if key.startswith("volume") and "usd" not in key]
    candidates = candidates or [name for key, name in columns.items() if key.startswith("volume")]
    if not candidates:
        raise InvalidInput("CSV has no volume column")
    return candidates[0]


def _parse(raw: pd.DataFrame, symbol_hint: str | None) -> tuple[pd.DataFrame, str | None, np.ndarray]:
    """Return (frame indexed by UTC time, symbol if the file names it, precision rank per row)."""
    columns = {str(c).strip().lower(): c for c in raw.columns}
    missing = [c for c in ("open", "high", "low", "close") if c not in columns]
    if missing:
        raise InvalidInput(f"CSV is missing column(s) {', '.join(missing)}; columns are {list(raw.columns)}")
    symbol = None
    if "symbol" in columns and raw[columns["symbol"]].notna().any():
        symbol = str(raw[columns["symbol"]].dropna().iloc[0])
    named = symbol or symbol_hint
    base = normalize_symbol(named).split("/")[0] if named else None

    rank = np.zeros(len(raw))
    if "unix" in columns or "open_time" in columns:
        epoch = raw[columns.get("unix") or columns["open_time"]]
        index = epoch_to_datetime(epoch)
        # Millisecond rows carry more precision (and tradecount) than the seconds rows they overlap with.
        rank = (pd.to_numeric(epoch, errors="coerce").to_numpy(dtype=float) >= 1e11).astype(float)
    else:
        time_column = next((columns[c] for c in ("timestamp", "time", "date", "datetime") if c in columns), None)
        if time_column is None:
            raise InvalidInput(f"CSV has no time column (unix, timestamp or date); columns are {list(raw.columns)}")
        values = raw[time_column]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().all():
            index = epoch_to_datetime(numeric)
        else:
            try:
                index = pd.DatetimeIndex(pd.to_datetime(values, utc=True, format="mixed"))
            except (ValueError, TypeError) as exc:
                raise InvalidInput(f"cannot parse time column {time_column!r}: {exc}") from exc
    frame = pd.DataFrame(
        {
            "open": pd.to_numeric(raw[columns["open"]], errors="coerce").to_numpy(),
            "high": pd.to_numeric(raw[columns["high"]], errors="coerce").to_numpy(),
            "low": pd.to_numeric(raw[columns["low"]], errors="coerce").to_numpy(),
            "close": pd.to_numeric(raw[columns["close"]], errors="coerce").to_numpy(),
            "volume": pd.to_numeric(raw[_pick_volume(columns, base)], errors="coerce").to_numpy(),
        },
        index=pd.DatetimeIndex(index, name="timestamp"),
    )
    return frame, symbol, rank


def infer_timeframe(index: pd.DatetimeIndex) -> str:
    if len(index) < 3:
        return "1h"
    hours = float(pd.Series(index[1:] - index[:-1]).mode().iloc[0] / pd.Timedelta(hours=1))
    for value, name in _TIMEFRAME_FROM_HOURS.items():
        if abs(hours - value) < 1e-9:
            return name
    raise InvalidInput(f"cannot infer a supported timeframe from a typical spacing of {hours} h")


def load_csv(path: str | Path, symbol: str | None = None, timeframe: str | None = None) -> MarketData:
    """Load and clean a candle CSV into `MarketData` (source 'csv') with its quality report."""
    path = Path(path)
    hint = symbol
    if hint is None:
        match = _FILE_SYMBOL_RE.search(path.stem)
        hint = match.group(1) if match else None
    raw = _read_raw(path)
    frame, file_symbol, rank = _parse(raw, hint)
    if frame.empty:
        raise InvalidInput(f"CSV file has no rows: {path}")
    if frame[["open", "high", "low", "close"]].isna().all(axis=None):
        raise InvalidInput(f"malformed CSV {path.name}: no numeric prices")
    rows_in = len(frame)
    # Order so that, per timestamp, the most precise row comes last, then keep the last one.
    frame = frame.assign(_rank=rank).sort_values("_rank", kind="stable").sort_index(kind="stable")
    duplicated = frame.index.duplicated(keep="last")
    kept = frame[~duplicated]
    dropped = frame[duplicated]
    conflicts = 0
    if len(dropped):
        reference = kept["close"].reindex(dropped.index)
        conflicts = int((np.abs(dropped["close"] / reference - 1) > 1e-3).sum())
    frame = kept.drop(columns="_rank")[OHLCV_COLUMNS]
    frame, bogus = repair_bogus_opens(frame.dropna())
    timeframe = timeframe or infer_timeframe(pd.DatetimeIndex(frame.index))
    timeframe_hours(timeframe)
    resolved_symbol = normalize_symbol(symbol or file_symbol or hint or "BTC/USDT")
    report = validate(
        frame,
        timeframe,
        rows_in=rows_in,
        duplicates_removed=int(duplicated.sum()),
        duplicate_conflicts=conflicts,
        bogus_opens=bogus,
    )
    return MarketData(frame, resolved_symbol, timeframe, "csv", report, {"path": str(path)})
