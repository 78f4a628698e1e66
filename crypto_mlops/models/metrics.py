"""Forecast evaluation: QLIKE on variance, MSE/MAE on volatility, Mincer-Zarnowitz R², Diebold-Mariano.

All functions take realized and forecast *volatility* (RV24, decimal) and square where needed.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

VAR_FLOOR = 1e-14


def qlike_losses(realized_vol: np.ndarray, forecast_vol: np.ndarray) -> np.ndarray:
    """Per-origin QLIKE on variance: y/f - log(y/f) - 1 >= 0 (0 for a perfect forecast)."""
    y = np.maximum(np.asarray(realized_vol, float) ** 2, VAR_FLOOR)
    f = np.maximum(np.asarray(forecast_vol, float) ** 2, VAR_FLOOR)
    ratio = y / f
    losses: np.ndarray = ratio - np.log(ratio) - 1.0
    return losses


def qlike(realized_vol: np.ndarray, forecast_vol: np.ndarray) -> float:
    return float(np.mean(qlike_losses(realized_vol, forecast_vol)))


def mse(realized_vol: np.ndarray, forecast_vol: np.ndarray) -> float:
    return float(np.mean((np.asarray(realized_vol) - np.asarray(forecast_vol)) ** 2))


def mae(realized_vol: np.ndarray, forecast_vol: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(realized_vol) - np.asarray(forecast_vol))))


def mincer_zarnowitz_r2(realized_vol: np.ndarray, forecast_vol: np.ndarray) -> float:
    """R² of the OLS regression realized = a + b * forecast (volatility scale)."""
    y = np.asarray(realized_vol, float)
    x = np.asarray(forecast_vol, float)
    if np.std(x) == 0 or np.std(y) == 0:
        return 0.0
    r = np.corrcoef(x, y)[0, 1]
    return float(r * r)


def newey_west_variance(d: np.ndarray, lags: int) -> float:
    """HAC (Bartlett kernel) long-run variance of the series d."""
    d = np.asarray(d, float) - np.mean(d)
    n = len(d)
    lags = min(lags, n - 1)
    lrv = float(d @ d) / n
    for k in range(1, lags + 1):
        w = 1.0 - k / (lags + 1.0)
        lrv += 2.0 * w * float(d[k:] @ d[:-k]) / n
    return lrv


def diebold_mariano(loss_model: np.ndarray, loss_ref: np.ndarray, lags: int = 24) -> tuple[float, float]:
    """DM statistic on d = loss_model - loss_ref with a Newey-West variance (lags >= horizon).

    Negative t means the model has lower loss than the reference. Returns (t, two-sided p).
    """
    d = np.asarray(loss_model, float) - np.asarray(loss_ref, float)
    n = len(d)
    if n < 3:
        return float("nan"), float("nan")
    lrv = newey_west_variance(d, lags)
    if lrv <= 0:
        return 0.0, 1.0
    t = float(np.mean(d) / math.sqrt(lrv / n))
    p = float(2.0 * stats.norm.sf(abs(t)))
    return t, p
