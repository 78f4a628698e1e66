import numpy as np
import pandas as pd

from crypto_mlops.data.sources.synthetic import simulate


def _log_returns(n: int, seed: int) -> pd.Series:
    return np.log(simulate(n, seed=seed).frame["close"]).diff().dropna()


def test_seeded_and_reproducible() -> None:
    end = pd.Timestamp("2025-01-01", tz="UTC")
    a, b = simulate(500, seed=7, end=end), simulate(500, seed=7, end=end)
    pd.testing.assert_frame_equal(a.frame, b.frame)
    assert a.last_timestamp == end
    a_end = end
    assert not simulate(500, seed=8, end=a_end).frame.equals(a.frame)


def test_always_labelled_synthetic_and_valid() -> None:
    market = simulate(24 * 30, seed=3, symbol="ethusdt", timeframe="4h")
    assert market.source == "synthetic" and market.symbol == "ETH/USDT" and market.timeframe == "4h"
    assert market.quality is not None and market.quality.passed
    frame = market.frame
    assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
    assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
    assert (frame.index[1:] - frame.index[:-1] == pd.Timedelta(hours=4)).all()


def test_stylised_facts_volatility_clustering_and_fat_tails() -> None:
    returns = _log_returns(20_000, seed=11)
    assert returns.kurt() > 5  # fat tails (normal = 0)
    absolute = returns.abs()
    assert absolute.autocorr(1) > 0.1 and absolute.autocorr(24) > 0.05  # clustering
    assert abs(returns.autocorr(1)) < 0.05  # but returns themselves are not predictable


def test_regime_switches_show_up_as_calm_and_stressed_months() -> None:
    returns = _log_returns(24 * 365, seed=5)
    monthly_vol = returns.resample("MS").std()
    assert monthly_vol.max() / monthly_vol.min() > 1.5


def test_each_pair_has_its_own_path_price_and_volatility_level() -> None:
    end = pd.Timestamp("2025-01-01", tz="UTC")
    btc, eth, sol = (simulate(24 * 200, seed=42, symbol=s, end=end).frame for s in ("BTC/USDT", "ETH/USDT", "SOL/USDT"))
    rets = {name: np.log(f["close"]).diff().dropna() for name, f in (("btc", btc), ("eth", eth), ("sol", sol))}
    # Different paths, not one path rescaled: returns are nearly uncorrelated across pairs.
    assert abs(np.corrcoef(rets["btc"], rets["eth"])[0, 1]) < 0.1
    assert btc["close"].iloc[0] > 10 * eth["close"].iloc[0]  # each pair keeps its own price level
    assert rets["sol"].std() > rets["btc"].std()  # and its own volatility level
    # The same pair and seed give the same path, whatever else was simulated before.
    pd.testing.assert_frame_equal(eth, simulate(24 * 200, seed=42, symbol="ETH/USDT", end=end).frame)
