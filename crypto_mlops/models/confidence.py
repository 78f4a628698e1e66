"""Confidence of a forecast, learned from out-of-sample errors (never a constant).

Definition: confidence = estimated probability that the realized RV24 lands within ±25 % of the
forecast, i.e. 0.75 f <= RV <= 1.25 f. It is estimated on a validation window, conditional on how
unusual the forecast is against the month's level: `surprise = log((f² / 24) / (rv720² / 720))`
(forecast hourly variance vs the last 30 days'). Validation origins are split into quantile bins of
surprise; each bin's hit rate is shrunk towards the overall rate, and a new origin gets the rate
interpolated at its surprise.

Hit rates drift with the regime far more than they vary with surprise (docs/confidence.md), so the
validation origins are weighted by recency: an origin `HALF_LIFE` origins older than the newest one
counts half. In walk-forward, `block_confidence` re-estimates the model at every refit from the errors
known then, as `quantiles.block_quantiles` does for the bands.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from crypto_mlops.models.quantiles import CAL_ORIGINS, MIN_CAL

BAND = 0.25
N_BINS = 6
# Both chosen on the 2018-07..2019-12 walk-forward (BTC, ETH; har_x, har_xsq), before the 2020+ test
# period (docs/confidence.md). SHRINK: pseudo-origins pulling a bin towards the overall rate; 720 is 30
# independent days, as hourly origins with a 24 h target overlap 24-fold. HALF_LIFE: 120 days of origins
# (second round, among 25 candidates; 60 days before it).
SHRINK = 720.0
HALF_LIFE = 2880.0
MIN_ORIGINS = 20


def surprise(features: pd.DataFrame, forecast: np.ndarray) -> np.ndarray:
    """log of the forecast hourly variance over the 30-day hourly variance, per origin."""
    level = features["rv720"].to_numpy(float) ** 2 / 720
    f = np.asarray(forecast, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z: np.ndarray = np.log(np.maximum(f**2 / 24, 1e-14)) - np.log(np.maximum(level, 1e-14))
    return z


def hits(realized: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """1.0 where the realized RV24 lands within ±BAND of the forecast, 0.0 where not, NaN where unknown."""
    y, f = np.asarray(realized, float), np.asarray(forecast, float)
    ok = np.isfinite(y) & np.isfinite(f) & (f > 0)
    out = np.full(len(y), np.nan)
    out[ok] = (np.abs(y[ok] / f[ok] - 1.0) <= BAND).astype(float)
    return out


def recency_weights(n: int, half_life: float | None) -> np.ndarray:
    """Weights of n origins, oldest first, scaled so that they sum to their effective sample size."""
    if half_life is None or n == 0:
        return np.ones(n)
    w = 0.5 ** (np.arange(n - 1, -1, -1) / half_life)
    scaled: np.ndarray = w * (w.sum() / (w**2).sum())
    return scaled


@dataclass(frozen=True)
class Sample:
    """Validation origins as the confidence sees them (oldest first): surprise, hit, log error."""

    z: np.ndarray
    hit: np.ndarray
    err: np.ndarray

    @classmethod
    def of(cls, features: pd.DataFrame, realized: np.ndarray, forecast: np.ndarray, mask: np.ndarray) -> Sample:
        y, f = np.asarray(realized, float), np.asarray(forecast, float)
        z, h = surprise(features, f), hits(y, f)
        ok = np.asarray(mask, bool) & np.isfinite(h) & np.isfinite(z) & (y > 0)
        return cls(z[ok], h[ok], np.log(y[ok] / f[ok]))

    def __len__(self) -> int:
        return len(self.z)

    def then(self, later: Sample) -> Sample:
        """This sample followed by a later one."""
        return Sample(*(np.concatenate([a, b]) for a, b in zip(self.arrays, later.arrays, strict=True)))

    def last(self, k: int) -> Sample:
        return Sample(*(a[len(a) - min(k, len(a)) :] for a in self.arrays))

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.z, self.hit, self.err


@dataclass
class ConfidenceModel:
    centers: list[float]
    rates: list[float]
    overall: float
    n: int
    log_error_quantiles: dict[str, float]
    half_life: float | None = None  # recency weighting it was fitted with (None: uniform, older models)

    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        realized: np.ndarray,
        forecast: np.ndarray,
        mask: np.ndarray,
        half_life: float | None = HALF_LIFE,
    ) -> ConfidenceModel:
        """Fit on the `mask` origins, in row order (the last rows weigh most)."""
        return cls.from_sample(Sample.of(features, realized, forecast, mask), half_life)

    @classmethod
    def from_sample(cls, sample: Sample, half_life: float | None = HALF_LIFE) -> ConfidenceModel:
        if len(sample) < MIN_ORIGINS:
            raise ValueError(f"need at least {MIN_ORIGINS} validation origins to estimate confidence")
        zs, hit = sample.z, sample.hit
        w = recency_weights(len(sample), half_life)
        overall = float(np.average(hit, weights=w))
        edges = np.unique(np.quantile(zs, np.linspace(0, 1, N_BINS + 1)))
        centers, rates = [], []
        for lo, hi in itertools.pairwise(edges):
            sel = (zs >= lo) & (zs <= hi)
            if not sel.any():
                continue
            centers.append(float(np.median(zs[sel])))
            rates.append(float(((w[sel] * hit[sel]).sum() + SHRINK * overall) / (w[sel].sum() + SHRINK)))
        # Unweighted: the serving bands keep their meaning (the walk-forward bands come from quantiles.py).
        q = {f"q{int(p * 100):02d}": float(np.quantile(sample.err, p)) for p in (0.05, 0.1, 0.5, 0.9, 0.95)}
        return cls(centers, rates, overall, len(sample), q, half_life)

    def score(self, features: pd.DataFrame, forecast: np.ndarray) -> np.ndarray:
        """Confidence for each row of `features` given that row's RV24 `forecast`, in [0, 1]."""
        z = surprise(features, forecast)
        out = np.interp(z, self.centers, self.rates)
        return np.clip(np.where(np.isfinite(z), out, self.overall), 0.0, 1.0)

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
            "half_life": self.half_life,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ConfidenceModel:
        """Also reads models saved before `half_life` existed (they were fitted unweighted)."""
        half_life = d.get("half_life")
        return cls(
            centers=list(d["centers"]),
            rates=list(d["rates"]),
            overall=float(d["overall"]),
            n=int(d["n"]),
            log_error_quantiles=dict(d["log_error_quantiles"]),
            half_life=None if half_life is None else float(half_life),
        )


class Forecaster(Protocol):
    def predict(self, features: pd.DataFrame, mask: np.ndarray | None = None) -> pd.Series: ...


def tail_sample(
    model: Forecaster,
    features: pd.DataFrame,
    realized: np.ndarray,
    mask: np.ndarray,
    k: int = CAL_ORIGINS,
) -> Sample:
    """The last `k` training origins of a fitted `model`, forecast by it (in-sample for most models)."""
    tail = np.zeros(len(mask), dtype=bool)
    tail[np.flatnonzero(mask)[-k:]] = True
    return Sample.of(features, realized, model.predict(features, tail).to_numpy(), tail)


def block_confidence(
    features: pd.DataFrame,
    realized: np.ndarray,
    forecast: np.ndarray,
    blocks: list[tuple[int, int]],
    horizon: int,
    seed: Sample | None = None,
    cal_origins: int = CAL_ORIGINS,
    half_life: float | None = None,
) -> np.ndarray:
    """Confidence on each block [p, q), from a model fitted on the errors known before p (NaN elsewhere).

    The pool is the latest `cal_origins` origins whose realized window closed before p, topped up with
    the `seed` (the first fit's training tail) while fewer than `MIN_CAL` are known. `half_life`
    None means the module's `HALF_LIFE`.
    """
    half_life = HALF_LIFE if half_life is None else half_life
    forecast = np.asarray(forecast, float)
    out = np.full(len(forecast), np.nan)
    if not blocks:
        return out
    first = blocks[0][0]
    known_all = np.zeros(len(forecast), dtype=bool)
    for p, q in blocks:
        known_all[:] = False
        known_all[first : max(first, p - horizon)] = True
        known = Sample.of(features, realized, forecast, known_all).last(cal_origins)
        pool = known
        if len(known) < MIN_CAL and seed is not None:
            pool = seed.last(cal_origins - len(known)).then(known)
        if len(pool) < MIN_ORIGINS:
            continue
        model = ConfidenceModel.from_sample(pool, half_life)
        out[p:q] = model.score(features.iloc[p:q], forecast[p:q])
    return out


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
