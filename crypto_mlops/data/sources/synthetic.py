"""Seeded market simulator for offline use and tests (always labelled source='synthetic').

Hourly log returns follow a GARCH(1,1) with Student-t innovations (volatility clustering, fat
tails), modulated by a two-state Markov regime (calm/stressed) and by the weekly calendar
(weekends and night hours in UTC are quieter, as in real BTC data). Parameters were chosen so
that hourly-return statistics resemble BTC/USDT 2017–2021.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.quality import validate
from crypto_mlops.data.schema import normalize_symbol, timeframe_delta, timeframe_hours

START_PRICES = {"BTC": 30_000.0, "ETH": 2_000.0, "BNB": 300.0, "SOL": 100.0, "ADA": 0.5, "DOT": 15.0}
# Volatility relative to BTC (rough ratios of hourly return std, 2020-2021), so that pairs differ as they do.
VOL_SCALE = {"BTC": 1.0, "ETH": 1.25, "BNB": 1.3, "SOL": 1.7, "ADA": 1.4, "DOT": 1.5}

# GARCH(1,1) on hourly returns; with the regime and calendar factors the hourly std is ≈ 0.010, as for BTC.
OMEGA, ALPHA, BETA = 1.6e-6, 0.06, 0.925
T_DOF = 5.0
REGIME_SCALE = {0: 0.8, 1: 1.8}  # calm / stressed volatility multipliers
REGIME_STAY = {0: 0.995, 1: 0.98}  # hourly probability of staying in the regime


def _calendar_factor(index: pd.DatetimeIndex) -> np.ndarray:
    weekend = np.asarray(index.day_of_week >= 5)
    hour = np.asarray(index.hour)
    intraday = 1.0 + 0.25 * np.cos(2 * np.pi * (hour - 15) / 24)  # busiest around US/EU overlap
    return np.where(weekend, 0.7, 1.0) * intraday


def _rng(seed: int, symbol: str) -> np.random.Generator:
    """BTC/USDT draws from the plain seed (figures published for it stay reproducible); every other pair
    has its own path, drawn from (seed, symbol)."""
    if symbol == "BTC/USDT":
        return np.random.default_rng(seed)
    return np.random.default_rng([seed, zlib.crc32(symbol.encode())])


def simulate(
    n_bars: int = 24 * 90,
    seed: int = 42,
    symbol: str = "BTC/USDT",
    timeframe: str = "1h",
    end: pd.Timestamp | str | None = None,
    start_price: float | None = None,
) -> MarketData:
    """Simulate `n_bars` candles of `symbol` ending at `end` (default: the last full hour before now).

    Each pair has its own seeded path, price level (`START_PRICES`) and volatility level (`VOL_SCALE`).
    """
    if n_bars < 2:
        raise InvalidInput("n_bars must be at least 2")
    symbol = normalize_symbol(symbol)
    bar_hours = timeframe_hours(timeframe)
    step = timeframe_delta(timeframe)
    end_ts = pd.Timestamp(end) if end is not None else pd.Timestamp.now(tz="UTC").floor(step) - step
    end_ts = end_ts.tz_localize("UTC") if end_ts.tzinfo is None else end_ts.tz_convert("UTC")
    index = pd.date_range(end=end_ts, periods=n_bars, freq=step, name="timestamp")
    rng = _rng(seed, symbol)
    base = symbol.split("/")[0]
    vol_scale = VOL_SCALE.get(base, 1.5)

    t_scale = np.sqrt((T_DOF - 2) / T_DOF)  # unit-variance Student-t
    shocks = rng.standard_t(T_DOF, size=n_bars) * t_scale
    calendar = _calendar_factor(index)
    regime_draws = rng.random(n_bars)
    returns = np.empty(n_bars)
    variance = OMEGA / (1 - ALPHA - BETA)
    regime = 0
    for i in range(n_bars):
        if regime_draws[i] > REGIME_STAY[regime]:
            regime = 1 - regime
        sigma = np.sqrt(variance) * REGIME_SCALE[regime] * calendar[i]
        returns[i] = sigma * shocks[i] * vol_scale
        variance = (
            OMEGA + ALPHA * (returns[i] / (REGIME_SCALE[regime] * calendar[i] * vol_scale)) ** 2 + BETA * variance
        )
    returns *= np.sqrt(bar_hours)  # longer bars aggregate more hourly variance
    returns -= returns.mean() * 0.5  # keep the drift small

    price0 = start_price or START_PRICES.get(base, 100.0)
    close = price0 * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[price0], close[:-1]])
    wick_scale = np.abs(returns).mean() * 0.6
    upper = np.abs(rng.normal(0.0, wick_scale, n_bars))
    lower = np.abs(rng.normal(0.0, wick_scale, n_bars))
    high = np.maximum(open_, close) * np.exp(upper)
    low = np.minimum(open_, close) * np.exp(-lower)
    activity = np.abs(returns) / (np.abs(returns).mean() + 1e-12)
    volume = np.exp(rng.normal(0.0, 0.35, n_bars)) * (0.6 + 0.4 * activity) * 1_000.0 * bar_hours * 1e4 / price0
    frame = pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index)
    return MarketData(frame, symbol, timeframe, "synthetic", validate(frame, timeframe), {"seed": seed})
