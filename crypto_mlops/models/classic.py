"""Rule and time-series baselines: naive persistence, RiskMetrics EWMA and GARCH(1,1)-t."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.catalog import register


class RuleModel(VolatilityModel):
    """A fixed rule with nothing to fit: it forecasts from any frame, however short."""

    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None:
        pass


@register
class NaiveModel(RuleModel):
    """Persistence: the next 24 h realize what the last 24 h did."""

    name = "naive"
    inputs: ClassVar[tuple[str, ...]] = ("rv24",)

    def _predict(self, features: pd.DataFrame) -> np.ndarray:
        # rv24 covers 24 bars; rescale to the horizon when bars are not hourly.
        rv: np.ndarray = features["rv24"].to_numpy(float) * np.sqrt(self.horizon / 24.0)
        return rv


@register
class EWMAModel(RuleModel):
    """RiskMetrics EWMA variance (lambda 0.94), flat term structure over the horizon."""

    name = "ewma"
    inputs: ClassVar[tuple[str, ...]] = ("ewma_var",)

    def _predict(self, features: pd.DataFrame) -> np.ndarray:
        rv: np.ndarray = np.sqrt(self.horizon * features["ewma_var"].to_numpy(float))
        return rv


@register
class GarchModel(VolatilityModel):
    """GARCH(1,1) with Student-t innovations, zero mean, fitted once on the training returns.

    Forecasting filters the variance forward with the fixed parameters (no refits), so a whole
    backtest costs one fit; the 24-bar forecast sums the mean-reverting variance path.
    """

    name = "garch"
    inputs: ClassVar[tuple[str, ...]] = ("log_ret",)
    SCALE = 100.0  # fit on percent returns for numerical stability

    def __init__(self) -> None:
        super().__init__()
        self.omega = self.alpha = self.beta = self.nu = 0.0
        self.var0 = 0.0

    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None:
        from arch import arch_model

        r = features["log_ret"].to_numpy(float)
        sel = train_mask & np.isfinite(r)
        y = r[sel] * self.SCALE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = arch_model(y, mean="Zero", vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(disp="off")
        p = res.params
        self.omega, self.alpha, self.beta, self.nu = (
            float(p["omega"]),
            float(p["alpha[1]"]),
            float(p["beta[1]"]),
            float(p["nu"]),
        )
        self.var0 = float(np.var(y))

    def params(self) -> dict[str, Any]:
        return {"omega": self.omega, "alpha": self.alpha, "beta": self.beta, "nu": self.nu, "var0": self.var0}

    def set_params(self, params: dict[str, Any]) -> None:
        for k, v in params.items():
            setattr(self, k, float(v))

    def _predict(self, features: pd.DataFrame) -> np.ndarray:
        from scipy.signal import lfilter  # here, not at import: a quarter of a baseline champion's load

        r = np.nan_to_num(features["log_ret"].to_numpy(float)) * self.SCALE
        # sigma2_{t+1} = omega + alpha r_t^2 + beta sigma2_t, started at the training variance.
        drive = self.omega + self.alpha * r**2
        next_var, _ = lfilter([1.0], [1.0, -self.beta], drive, zi=[self.beta * self.var0])
        phi = self.alpha + self.beta
        h = self.horizon
        if phi < 1.0:
            uncond = self.omega / (1.0 - phi)
            total = h * uncond + (next_var - uncond) * (1.0 - phi**h) / (1.0 - phi)
        else:  # integrated: variance path is flat
            total = h * next_var
        rv: np.ndarray = np.sqrt(np.maximum(total, 0.0)) / self.SCALE
        return rv
