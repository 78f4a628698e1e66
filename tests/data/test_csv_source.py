"""Every CSV layout the loader promises, on files the tests write."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.sources.csv_source import load_csv


def _candles(n: int = 60, start: str = "2024-01-01") -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq="h", tz="UTC")
    close = 100 * np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.01, n)))
    return pd.DataFrame(
        {"open": close * 0.999, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 5.0},
        index=index,
    )


def test_cryptodatadownload_layout_with_url_line_mixed_units_and_duplicates(tmp_path: Path) -> None:
    frame = _candles()
    rows = [
        "https://www.CryptoDataDownload.com",
        "unix,date,symbol,open,high,low,close,Volume ETH,Volume USDT,tradecount",
    ]
    for i, (ts, row) in enumerate(frame.iloc[::-1].iterrows()):  # newest first
        seconds = int(ts.timestamp())
        if i < 30:  # newer half in milliseconds, with tradecount
            rows.append(
                f"{seconds * 1000},{ts:%Y-%m-%d %H:%M:%S},ETH/USDT,{row.open},{row.high},{row.low},"
                f"{row.close},{row.volume},{row.volume * row.close},10"
            )
        if i >= 25:  # older half in seconds; overlaps the newer half by 5 rows (slightly rounded)
            rows.append(
                f"{seconds}.0,{ts:%Y-%m-%d %I-%p},ETH/USDT,{row.open:.2f},{row.high:.2f},{row.low:.2f},"
                f"{row.close:.2f},{row.volume},{row.volume * row.close},NULL"
            )
    path = tmp_path / "Binance_ETHUSDT_1h.csv"
    path.write_text("\n".join(rows) + "\n")
    market = load_csv(path)
    assert market.symbol == "ETH/USDT" and market.timeframe == "1h" and market.source == "csv"
    assert len(market.frame) == 60
    assert market.quality is not None and market.quality.duplicates_removed == 5
    # The millisecond rows (full precision) win over the rounded seconds rows.
    np.testing.assert_allclose(market.frame["close"].iloc[30:], frame["close"].iloc[30:], rtol=1e-12)
    np.testing.assert_allclose(market.frame["close"].iloc[:30], frame["close"].iloc[:30].round(2), rtol=1e-12)
    assert market.frame.index.is_monotonic_increasing and str(market.frame.index.tz) == "UTC"


def test_generic_iso_timestamps_with_offset(tmp_path: Path) -> None:
    frame = _candles()
    lines = ["timestamp,open,high,low,close,volume"] + [
        f"{ts.tz_convert('Europe/Madrid').isoformat()},{r.open},{r.high},{r.low},{r.close},{r.volume}"
        for ts, r in frame.iterrows()
    ]
    path = tmp_path / "prices.csv"
    path.write_text("\n".join(lines))
    market = load_csv(path, symbol="BTCUSDT")
    assert market.frame.index[0] == frame.index[0]
    assert market.symbol == "BTC/USDT"


def test_date_layout(tmp_path: Path) -> None:
    frame = _candles()
    lines = ["date,open,high,low,close,volume"] + [
        f"{ts:%Y-%m-%d %H:%M:%S},{r.open},{r.high},{r.low},{r.close},{r.volume}" for ts, r in frame.iterrows()
    ]
    path = tmp_path / "d.csv"
    path.write_text("\n".join(lines))
    assert len(load_csv(path).frame) == 60


def test_binance_klines_without_header_in_microseconds(tmp_path: Path) -> None:
    frame = _candles()
    lines = [
        f"{int(ts.timestamp() * 1_000_000)},{r.open},{r.high},{r.low},{r.close},{r.volume},"
        f"{int(ts.timestamp() * 1_000_000) + 3_599_999_999},1,2,3,4,0"
        for ts, r in frame.iterrows()
    ]
    path = tmp_path / "BTCUSDT-1h-2024-01.csv"
    path.write_text("\n".join(lines))
    market = load_csv(path)
    assert market.symbol == "BTC/USDT"
    assert market.frame.index[0] == frame.index[0]


def test_gaps_are_reported_not_invented(tmp_path: Path) -> None:
    frame = _candles().drop(index=_candles().index[[10, 11, 40]])
    path = tmp_path / "gappy.csv"
    frame.rename_axis("timestamp").to_csv(path)
    market = load_csv(path)
    assert len(market.frame) == 57
    assert market.quality is not None and market.quality.missing_bars == 3 and len(market.quality.gaps) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("timestamp,open,high,low,close,volume\n", "no rows"),
        ("a,b\n1,2\n", "missing column"),
        ("date,open,high,low,close,volume\nnot-a-date,1,2,0.5,1,3\n", "cannot parse time"),
    ],
)
def test_bad_files_raise_clear_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=message):
        load_csv(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not found"):
        load_csv(tmp_path / "nope.csv")
