"""The real freqtrade, from the registry, backtesting the example strategy on our exported forecasts.

Three offline backtests over the same candles: sized by the forecast, fixed stakes, and without the
forecast file. Each trade's stake must equal the one the forecast of its signal candle implies, and
removing the forecasts must change the run. Skips only where the package registry cannot be reached.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from crypto_mlops.cli.main import app
from crypto_mlops.data.sources.csv_source import load_csv
from crypto_mlops.data.sources.synthetic import simulate
from crypto_mlops.models.export import read_forecasts
from tests.integration import freqtrade_harness as ft

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SHARED = Path(os.environ.get("SHARED_DATA_DIR", ft.ROOT.parent / "shared" / "data"))  # as tests/conftest.py
PAIRS = ["BTC/USDT", "ETH/USDT"]
TARGET_RV, STAKE_CLIP, STAKE = 0.03, (0.2, 1.5), 1000.0  # as in VolTargetStrategy / config.backtest.json


@pytest.fixture(scope="module")
def python() -> Path:
    try:
        return ft.ensure_venv()
    except ft.RegistryUnreachable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """user_data with the development candles (synthetic where absent) and their forecast export."""
    root = tmp_path_factory.mktemp("freqtrade")
    user_data = ft.make_user_data(root)
    csvs: list[Path] = []
    if SHARED.is_dir():
        start, end, timerange = "2021-03-01", "2021-06-09 23:00", "20210301-20210609"
        for pair in PAIRS:
            csv = SHARED / f"Binance_{pair.replace('/', '')}_1h.csv"
            ft.write_candles(load_csv(csv).frame, user_data / "data" / "binance", pair)
            csvs.append(csv)
    else:
        end_ts = pd.Timestamp("2024-06-30 23:00", tz="UTC")
        start, end, timerange = "2024-04-15", str(end_ts), "20240415-20240630"
        for seed, pair in enumerate(PAIRS):
            frame = simulate(n_bars=24 * 200, seed=seed + 5, symbol=pair, end=end_ts).frame
            ft.write_candles(frame, user_data / "data" / "binance", pair)
            csv = root / f"{pair.replace('/', '')}.csv"
            frame.reset_index().to_csv(csv, index=False)
            csvs.append(csv)
    out = user_data / "forecasts" / "har_x.feather"
    args = ["forecasts", "export", *[a for c in csvs for a in ("--data", str(c))], "--from", start, "--to", end]
    res = CliRunner().invoke(app, [*args, "--model", "har_x", "--out", str(out)])
    assert res.exit_code == 0, res.output
    yield root, timerange


@pytest.fixture(scope="module")
def runs(python: Path, workdir: tuple[Path, str]) -> dict[str, dict[str, Any]]:
    root, timerange = workdir
    forecasts = "user_data/forecasts/har_x.feather"
    configs = {
        "forecast": ft.backtest_config(PAIRS, forecasts),
        "fixed": ft.backtest_config(PAIRS, forecasts, size_by_forecast=False),
        "removed": ft.backtest_config(PAIRS, "user_data/forecasts/removed.feather"),
    }
    return {tag: ft.run_backtest(python, root, cfg, timerange, tag) for tag, cfg in configs.items()}


def _trades(block: dict[str, Any]) -> pd.DataFrame:
    trades = pd.DataFrame(block["trades"])
    trades["open_date"] = pd.to_datetime(trades["open_date"], utc=True)
    return trades


def test_stakes_follow_the_forecast_of_each_signal_candle(
    runs: dict[str, dict[str, Any]], workdir: tuple[Path, str]
) -> None:
    trades = _trades(runs["forecast"])
    assert len(trades) >= 10
    assert trades["stake_amount"].round(0).nunique() >= 5  # sizes vary with the forecast
    table = read_forecasts(workdir[0] / "user_data" / "forecasts" / "har_x.feather").set_index(["pair", "date"])
    step = trades["open_rate"].to_numpy() * 1e-5  # freqtrade rounds the amount down to the market's 1e-5 coin step

    def implied(candle: pd.Series) -> np.ndarray:
        q90 = table["q90"].reindex(list(zip(trades["pair"], candle, strict=True))).to_numpy()
        return np.asarray(STAKE * np.clip(TARGET_RV / q90, *STAKE_CLIP))

    def matches(expected: np.ndarray) -> np.ndarray:
        stake = trades["stake_amount"].to_numpy()
        return np.asarray((stake <= expected + 1e-6) & (stake >= expected - step - 1e-6))

    signal_candle = trades["open_date"] - pd.Timedelta(hours=1)  # entries fill at the open after the signal
    assert matches(implied(signal_candle)).all()
    assert not matches(implied(trades["open_date"])).all()  # the entry candle's own forecast (look-ahead) differs


def test_fixed_stakes_take_the_same_trades_at_the_configured_stake(runs: dict[str, dict[str, Any]]) -> None:
    sized, fixed = _trades(runs["forecast"]), _trades(runs["fixed"])
    np.testing.assert_allclose(fixed["stake_amount"], STAKE, atol=1.0)  # amounts are rounded to the market precision
    assert list(zip(fixed["pair"], fixed["open_date"], strict=True)) == list(
        zip(sized["pair"], sized["open_date"], strict=True)
    )


def test_removing_the_forecasts_changes_the_backtest(runs: dict[str, dict[str, Any]]) -> None:
    sized, removed = _trades(runs["forecast"]), _trades(runs["removed"])
    np.testing.assert_allclose(removed["stake_amount"], STAKE, atol=1.0)  # amounts are rounded to the market precision
    assert (removed["initial_stop_loss_ratio"] == -0.10).all()  # the strategy's fallback stop
    assert runs["removed"]["profit_total_abs"] != runs["forecast"]["profit_total_abs"]
    assert list(zip(removed["pair"], removed["open_date"], strict=True)) != list(
        zip(sized["pair"], sized["open_date"], strict=True)
    )


LIVE_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
import pandas as pd
from freqtrade.enums import RunMode
from crypto_mlops_forecasts import VolForecastMixin

class Strategy(VolForecastMixin):
    timeframe = "1h"
    config = {"crypto_mlops": {"api_url": sys.argv[2]}}
    dp = type("DataProvider", (), {"runmode": RunMode.DRY_RUN})()

candles = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"), "close": [1.0, 2, 3]})
out = Strategy().add_forecasts(candles, {"pair": "BTC/USDT"})
last = out.iloc[-1]
print(json.dumps({"rv": last["predicted_rv_24h"], "regime": last["volatility_regime"],
                  "first_is_nan": bool(pd.isna(out.iloc[0]["predicted_rv_24h"]))}))
"""


def test_remote_pairlist_accepts_our_pairlist_endpoint(python: Path, tmp_path: Path) -> None:
    """`freqtrade test-pairlist` with RemotePairList pointed at a running API takes our answer as is."""
    import json
    import urllib.request

    from crypto_mlops.api.app import create_app
    from tests.service.fixtures import UvicornThread, make_service

    ft.make_user_data(tmp_path)
    service = make_service(tmp_path)
    try:
        with UvicornThread(create_app(service, start_service=False)) as api:
            config = ft.backtest_config(PAIRS, None)
            remote = json.loads((ft.INTEGRATION / "config.remotepairlist.json").read_text())["pairlists"]
            remote[0]["pairlist_url"] = remote[0]["pairlist_url"].replace("http://127.0.0.1:8800", api.url)
            config["pairlists"] = remote
            (tmp_path / "config-pairlist.json").write_text(json.dumps(config))
            done = ft.freqtrade(python, tmp_path, "test-pairlist", "--config", "config-pairlist.json", "--print-json")
            with urllib.request.urlopen(remote[0]["pairlist_url"], timeout=30) as response:
                ours = json.load(response)
            live = subprocess.run(
                [str(python), "-c", LIVE_SCRIPT, str(ft.INTEGRATION), api.url], capture_output=True, text=True
            )
            expected = service.ml_signal("BTC/USDT", "1h", record=False).ml_prediction
    finally:
        service.close()
    whitelist = json.loads(done.stdout.strip().splitlines()[-1])
    assert ours["pairs"] and whitelist == ours["pairs"]
    assert "RemotePairList" in done.stdout + done.stderr
    # dry/live runs: the mix-in fills the latest candle from POST /v1/crypto/ml-signal
    assert live.returncode == 0, live.stderr
    answer = json.loads(live.stdout.strip().splitlines()[-1])
    assert answer["first_is_nan"] and answer["regime"] == expected.volatility_regime
    assert answer["rv"] == pytest.approx(expected.predicted_rv_24h)
