"""Confidence of a forecast, learned from out-of-sample errors (never a constant).

Definition: confidence = estimated probability that the realized RV24 lands within ±25 % of the
forecast, i.e. 0.75 f <= RV <= 1.25 f. It is estimated on a validation window, conditional on how
unusual the forecast is against the month's level: `surprise = log((f² / 24) / (rv720² / 720))`
(forecast hourly variance vs the last 30 days'). Validation origins are split into quantile bins of
surprise; each bin's hit rate is shrunk towards the overall rate, and a new origin gets the rate
interpolated at its surprise. Forecasts far above the usual level (spikes) hit less often. On the
development data this conditional effect is modest and the overall out-of-sample hit rate of the
model dominates (see docs/model.md).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

BAND = 0.25
N_BINS = 6
SHRINK = 30.0  # pseudo-observations pulling a bin towards the overall rate


def surprise(features: pd.DataFrame, forecast: np.ndarray) -> np.ndarray:
    """log of the forecast hourly variance over the 30-day hourly variance, per origin."""
    level = features["rv720"].to_numpy(float) ** 2 / 720
    f = np.asarray(forecast, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z: np.ndarray = np.log(np.maximum(f**2 / 24, 1e-14)) - np.log(np.maximum(level, 1e-14))
    return z


@dataclass
class ConfidenceModel:
    centers: list[float]
    rates: list[float]
    overall: float
    n: int
    log_error_quantiles: dict[str, float]

    @classmethod
    def fit(
        cls, features: pd.DataFrame, realized: np.ndarray, forecast: np.ndarray, mask: np.ndarray
    ) -> ConfidenceModel:
        z = surprise(features, forecast)
        ok = mask & np.isfinite(realized) & np.isfinite(forecast) & (forecast > 0) & np.isfinite(z)
        if ok.sum() < 20:
            raise ValueError("need at least 20 validation origins to estimate confidence")
        hit = (np.abs(realized[ok] / forecast[ok] - 1.0) <= BAND).astype(float)
        zs = z[ok]
        overall = float(hit.mean())
        edges = np.unique(np.quantile(zs, np.linspace(0, 1, N_BINS + 1)))
        centers, rates = [], []
        for lo, hi in itertools.pairwise(edges):
            sel = (zs >= lo) & (zs <= hi)
            k = int(sel.sum())
            if k == 0:
                continue
            centers.append(float(np.median(zs[sel])))
            rates.append(float((hit[sel].sum() + SHRINK * overall) / (k + SHRINK)))
        err = np.log(realized[ok] / forecast[ok])
        q = {f"q{int(p * 100):02d}": float(np.quantile(err, p)) for p in (0.05, 0.1, 0.5, 0.9, 0.95)}
        return cls(centers=centers, rates=rates, overall=overall, n=int(ok.sum()), log_error_quantiles=q)

    def score(self, features: pd.DataFrame, forecast: np.ndarray) -> np.ndarray:
        """Confidence for each row of `features` given that row's RV24 `forecast`."""
        z = surprise(features, forecast)
        out = np.interp(z, self.centers, self.rates)
        return np.where(np.isfinite(z), out, self.overall)

    def quantiles(self, forecast: float) -> tuple[float, float, float]:
        """10/50/90 % quantiles of RV24 given a forecast (validation log-error quantiles applied to it);
        q10..q90 is the empirical 80 % interval."""
        q = self.log_error_quantiles
        return (
            float(forecast * np.exp(q["q10"])),
            float(forecast * np.exp(q["q50"])),
            float(forecast * np.exp(q["q90"])),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "centers": self.centers,
            "rates": self.rates,
            "overall": self.overall,
            "n": self.n,
            "log_error_quantiles": self.log_error_quantiles,
            "band": BAND,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConfidenceModel:
        return cls(
            centers=list(d["centers"]),
            rates=list(d["rates"]),
            overall=float(d["overall"]),
            n=int(d["n"]),
            log_error_quantiles=dict(d["log_error_quantiles"]),
        )


# Prior used only when a model carries no calibration (frame too short to calibrate): measured hit
# rates (±25 %) of the HAR baseline by forecast-surprise bin on the BTC backtest (train 70 %, test
# 2020-04-18..2021-06-09, 10,005 origins), rounded.
DEFAULT_CONFIDENCE = ConfidenceModel(
    centers=[-0.602, -0.331, -0.133, 0.081, 0.324, 0.698],
    rates=[0.454, 0.428, 0.434, 0.484, 0.394, 0.488],
    overall=0.447,
    n=10005,
    log_error_quantiles={"q05": -0.782, "q10": -0.650, "q50": -0.199, "q90": 0.337, "q95": 0.550},
)
