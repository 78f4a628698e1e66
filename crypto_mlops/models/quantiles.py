"""Calibrated RV24 quantiles: forecast × exp(quantile of recent out-of-sample log errors).

A rolling split-conformal scheme: at each refit point the 10/50/90 % quantiles of log(realized /
forecast) are taken over the latest `CAL_ORIGINS` origins whose realized RV24 is already known, and
held until the next refit. Until enough such origins exist, the model's errors on the tail of its
own training rows fill the pool (in-sample for the regressions, so the first weeks run a bit narrow).
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.1, 0.5, 0.9)
SUFFIXES = tuple(f"_q{round(q * 100):02d}" for q in QUANTILES)
CAL_ORIGINS = 4320  # 180 days of hourly origins, fixed a priori
MIN_CAL = 240  # below this many out-of-sample errors the training-tail errors fill the pool


def log_errors(realized: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """log(realized / forecast), NaN where either is missing or not positive."""
    y, f = np.asarray(realized, float), np.asarray(forecast, float)
    ok = np.isfinite(y) & np.isfinite(f) & (y > 0) & (f > 0)
    out = np.full(len(y), np.nan)
    out[ok] = np.log(y[ok] / f[ok])
    return out


def block_quantiles(
    realized: np.ndarray,
    forecast: np.ndarray,
    blocks: list[tuple[int, int]],
    horizon: int,
    seed_errors: np.ndarray,
    cal_origins: int = CAL_ORIGINS,
) -> np.ndarray:
    """(n, 3) quantile forecasts, filled on each block [p, q) from errors known before p (NaN elsewhere)."""
    forecast = np.asarray(forecast, float)
    out = np.full((len(forecast), len(QUANTILES)), np.nan)
    if not blocks:
        return out
    err = log_errors(realized, forecast)
    first = blocks[0][0]
    seed = np.asarray(seed_errors, float)
    seed = seed[np.isfinite(seed)]
    for p, q in blocks:
        known = err[first : max(first, p - horizon)]  # realized windows closed before p
        known = known[np.isfinite(known)][-cal_origins:]
        pool = known if len(known) >= MIN_CAL else np.concatenate([seed[-(cal_origins - len(known)) :], known])
        if len(pool) == 0:
            continue
        shift = np.quantile(pool, QUANTILES)
        out[p:q] = forecast[p:q, None] * np.exp(shift)[None, :]
    return out


def coverage(realized: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of origins whose realized RV24 falls inside [lower, upper]."""
    y = np.asarray(realized, float)
    return float(np.mean((y >= lower) & (y <= upper)))


def pinball(realized: np.ndarray, quantiles: np.ndarray, levels: tuple[float, ...] = QUANTILES) -> float:
    """Mean pinball (quantile) loss over the levels, on the RV24 (volatility) scale."""
    y = np.asarray(realized, float)[:, None]
    tau = np.asarray(levels)[None, :]
    d = y - np.asarray(quantiles, float)
    return float(np.mean(np.maximum(tau * d, (tau - 1.0) * d)))
