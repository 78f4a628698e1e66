"""Point-in-time forecast export: every candle, no look-ahead, the tail as a live system would have it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crypto_mlops.cli.main import app
from crypto_mlops.data.market import MarketData
from crypto_mlops.models.export import (
    COLUMNS,
    ExportConfig,
    export_forecasts,
    read_forecasts,
    read_freqtrade_candles,
    write_forecasts,
)
from tests.perturb import perturbed_after

START = pd.Timestamp("2024-05-20", tz="UTC")
CUT = 2700  # candles after this row are perturbed (the market has 3000 rows)


def _export(frame: pd.DataFrame, end: pd.Timestamp | None = None) -> pd.DataFrame:
    return export_forecasts(frame, "1h", ExportConfig(start=START, end=end, model="har_x")).set_index("date")


@pytest.fixture(scope="module")
def full(market: MarketData) -> pd.DataFrame:
    return _export(market.frame)


def _perturbed(frame: pd.DataFrame, seed: int = 3) -> pd.DataFrame:
    return perturbed_after(frame, CUT, seed)


def test_every_candle_of_the_range_has_a_forecast_with_its_fit(market: MarketData, full: pd.DataFrame) -> None:
    index = market.frame.index
    assert list(full.reset_index().columns) == list(COLUMNS)
    assert full.index[0] == START and full.index[-1] == index[-1]  # the last day too
    assert len(full) == int((index >= START).sum())
    numeric = full[["predicted_rv_24h", "q10", "q50", "q90", "predicted_volatility"]]
    assert np.isfinite(numeric.to_numpy()).all()
    assert (full["q10"] <= full["q50"]).all() and (full["q50"] <= full["q90"]).all()
    np.testing.assert_allclose(full["predicted_volatility"], full["predicted_rv_24h"] / np.sqrt(24))
    assert set(full["volatility_regime"]) <= {"calm", "normal", "turbulent"}
    assert (full["fitted_until"] < full.index).all()
    refits = pd.DatetimeIndex(sorted(full["fitted_until"].unique())) + pd.Timedelta(hours=1)
    assert refits[0] == START and (refits.to_series().diff().dropna() == pd.Timedelta(days=7)).all()


def test_perturbing_the_future_changes_no_earlier_row(market: MarketData, full: pd.DataFrame) -> None:
    moved = _export(_perturbed(market.frame))
    t = market.frame.index[CUT]
    pd.testing.assert_frame_equal(full.loc[:t], moved.loc[:t])
    assert not np.allclose(full.loc[t:, "predicted_rv_24h"].iloc[5:], moved.loc[t:, "predicted_rv_24h"].iloc[5:])


@pytest.mark.parametrize("hours_before_end", [5, 30, 200])
def test_an_export_ending_at_t_matches_the_longer_one_up_to_t(
    market: MarketData, full: pd.DataFrame, hours_before_end: int
) -> None:
    """The last day (no known future) is forecast exactly as it was before that future existed."""
    t = market.frame.index[-1 - hours_before_end]
    short = _export(market.frame, end=t)
    assert short.index[-1] == t
    pd.testing.assert_frame_equal(short, full.loc[:t])


@pytest.mark.parametrize("suffix", [".feather", ".parquet", ".csv"])
def test_write_and_read_back(full: pd.DataFrame, tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"f{suffix}"
    write_forecasts(full.reset_index(), path)
    back = read_forecasts(path)
    assert list(back.columns) == list(COLUMNS)
    assert back["date"].dt.tz is not None
    np.testing.assert_allclose(back["q90"], full["q90"], rtol=1e-6)


def test_cli_export_writes_one_row_per_candle(market: MarketData, tmp_path: Path) -> None:
    csv = tmp_path / "candles.csv"
    market.frame.reset_index().to_csv(csv, index=False)
    out = tmp_path / "fc.feather"
    args = ["forecasts", "export", "--data", str(csv), "--symbol", "ETH/USDT", "--from", "2024-06-20"]
    res = CliRunner().invoke(app, [*args, "--to", "2024-06-30 12:00", "--model", "har", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = read_forecasts(out)
    assert len(table) == 10 * 24 + 13 and set(table["pair"]) == {"ETH/USDT"} and set(table["model_name"]) == {"har"}
    bad = CliRunner().invoke(app, [*args, "--model", "nope", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown model" in bad.output


def test_freqtrade_candle_files_round_trip_and_feed_the_export(market: MarketData, tmp_path: Path) -> None:
    csv = tmp_path / "candles.csv"
    market.frame.reset_index().to_csv(csv, index=False)
    ft_file = tmp_path / "binance" / "ETH_USDT-1h.feather"
    res = CliRunner().invoke(app, ["forecasts", "candles", "--data", str(csv), "--out", str(ft_file)])
    assert res.exit_code == 0, res.output
    table = pd.read_feather(ft_file)
    assert list(table.columns) == ["date", "open", "high", "low", "close", "volume"] and len(table) == len(market.frame)
    frame, pair, timeframe = read_freqtrade_candles(ft_file)
    assert (pair, timeframe) == ("ETH/USDT", "1h")
    pd.testing.assert_frame_equal(frame, market.frame, check_freq=False, check_index_type=False)
    out = tmp_path / "fc.csv"
    args = ["forecasts", "export", "--data", str(ft_file), "--from", "2024-06-29", "--model", "har", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    exported = read_forecasts(out)
    assert set(exported["pair"]) == {"ETH/USDT"} and len(exported) == 48
    bad = CliRunner().invoke(app, ["forecasts", "candles", "--data", str(csv), "--out", str(tmp_path / "x.csv")])
    assert bad.exit_code == 2
