"""HAR extensions with better daily measures: semivariances (SHAR) and realized quarticity (HARQ).

- SHAR (Patton & Sheppard 2015): the daily log RV term is split into the log positive and negative
  realized semivariances of the last 24 h; bad (negative-return) variance predicts more.
- HARQ (Bollerslev, Patton & Quaedvlieg 2016): the daily coefficient moves with the measurement noise
  of RV, proxied by k = sqrt(RQ)/RV (relative noise, from the hourly returns' quarticity). In logs:
  an extra term log v_d × (k - mean k), so noisy days weigh less. The mean is a training statistic.
- HAR-XSQ: HAR-X (range, short-horizon and calendar terms) with both of the above.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crypto_mlops.models.base import log_var
from crypto_mlops.models.catalog import register
from crypto_mlops.models.har import HarModel, HarXModel, har_design, range_design

SEMI_FLOOR = 0.01  # a semivariance is floored at 1 % of the day's RV² (one-sided days stay finite)
NOISE_CAP = 3.0  # k = sqrt(RQ)/RV is at most sqrt(m/3) (one return carries the day) ≈ 2.8 for 24 bars


def semivariance_design(features: pd.DataFrame) -> np.ndarray:
    """log per-bar positive and negative semivariance over the last 24 h."""
    rv2 = features["rv24"].to_numpy(float) ** 2
    cols = []
    for c in ("rs_pos24", "rs_neg24"):
        semi = np.maximum(features[c].to_numpy(float) ** 2, SEMI_FLOOR * rv2)
        cols.append(log_var(np.sqrt(semi)) - np.log(24))
    return np.column_stack(cols)


def relative_noise(features: pd.DataFrame) -> np.ndarray:
    """k = sqrt(RQ) / RV of the last 24 h (NaN on flat days)."""
    rv2 = features["rv24"].to_numpy(float) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.sqrt(features["rq24"].to_numpy(float)) / rv2
    return np.where(rv2 > 0, np.minimum(k, NOISE_CAP), np.nan)


class _QuarticityTerm(HarModel):
    """The quarticity interaction's state: the training mean of k, so the interaction leaves the daily
    coefficient at mean noise (fitted, saved and restored with the model)."""

    noise_mean: float = 1.0

    def fit_noise_mean(self, features: pd.DataFrame, train_mask: np.ndarray) -> None:
        k = relative_noise(features)
        ok = train_mask & np.isfinite(k)
        self.noise_mean = float(k[ok].mean()) if ok.any() else 1.0

    def quarticity_design(self, features: pd.DataFrame, log_daily: np.ndarray) -> np.ndarray:
        term: np.ndarray = log_daily * (np.nan_to_num(relative_noise(features), nan=self.noise_mean) - self.noise_mean)
        return term

    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None:
        self.fit_noise_mean(features, train_mask)
        super()._fit(features, target, train_mask)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "noise_mean": self.noise_mean}

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        self.noise_mean = float(params["noise_mean"])


@register
class SharModel(HarModel):
    """Log HAR with the daily term split into positive and negative semivariances."""

    name = "shar"
    inputs: ClassVar[tuple[str, ...]] = ("rv24", "rs_pos24", "rs_neg24", "rv168", "rv720")

    def design(self, features: pd.DataFrame) -> np.ndarray:
        return np.column_stack([semivariance_design(features), har_design(features)[:, 1:]])


@register
class HarqModel(_QuarticityTerm):
    """Log HAR whose daily coefficient shrinks when the day's RV is noisy (high quarticity)."""

    name = "harq"
    inputs: ClassVar[tuple[str, ...]] = (*HarModel.inputs, "rq24")

    def design(self, features: pd.DataFrame) -> np.ndarray:
        har = har_design(features)
        return np.column_stack([har, self.quarticity_design(features, har[:, 0])])


@register
class HarXsqModel(_QuarticityTerm, HarXModel):
    """HAR-X with semivariances for the daily term and the quarticity interaction."""

    name = "har_xsq"
    inputs: ClassVar[tuple[str, ...]] = (*HarXModel.inputs, "rs_pos24", "rs_neg24", "rq24")

    def design(self, features: pd.DataFrame) -> np.ndarray:
        har = har_design(features)
        return np.column_stack(
            [
                semivariance_design(features),
                har[:, 1:],
                self.quarticity_design(features, har[:, 0]),
                range_design(features),
                self.calendar_design(features),
            ]
        )
