"""HAR-RV in logs (Corsi), its calendar-aware variant and HAR-X with range and short-horizon terms.

Inputs are the shared feature columns (`rv24`, `rv168`, `rv720`, `hour_of_week`, `weekend_share_*`,
range estimators, `rv6`, `ewma_var`); coefficients and hour-of-week factors come from the training
rows only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crypto_mlops.models.base import MIN_RV, VolatilityModel, log_var
from crypto_mlops.models.catalog import register

HAR_COLUMNS = ["rv24", "rv168", "rv720"]


def har_design(features: pd.DataFrame) -> np.ndarray:
    """log per-bar variance over the last day, week and month (Corsi's HAR, in logs)."""
    cols = [log_var(features[c]) - np.log(w) for c, w in zip(HAR_COLUMNS, (24, 168, 720), strict=True)]
    return np.column_stack(cols)


@register
class HarModel(VolatilityModel):
    """HAR-RV on log variance: log v_{t+1..t+24} = a + b_d log v_d + b_w log v_w + b_m log v_m.

    The log forecast is turned back into a variance with the lognormal factor exp(s²/2) of the
    training residuals, so the variance forecast is close to unbiased (what QLIKE rewards).
    """

    name = "har"
    inputs: ClassVar[tuple[str, ...]] = ("rv24", "rv168", "rv720")

    def __init__(self) -> None:
        super().__init__()
        self.coef: list[float] = []
        self.smear = 1.0

    def design(self, features: pd.DataFrame) -> np.ndarray:
        return har_design(features)

    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None:
        x = self.design(features)
        y = log_var(target) - np.log(self.horizon)
        ok = train_mask & np.isfinite(y) & np.isfinite(x).all(axis=1)
        ok &= (target.to_numpy(float) > MIN_RV) & (features["rv24"].to_numpy(float) > MIN_RV)
        if ok.sum() < x.shape[1] + 10:
            raise ValueError(f"{self.name}: too few training rows ({int(ok.sum())})")
        xa = np.column_stack([np.ones(ok.sum()), x[ok]])
        coef, *_ = np.linalg.lstsq(xa, y[ok], rcond=None)
        resid = y[ok] - xa @ coef
        self.coef = [float(c) for c in coef]
        # Lognormal back-transform exp(s²/2): E[v] for log v ~ N(m, s²). (The empirical smearing
        # mean(exp(resid)) is dominated by a few crash days and over-forecasts.)
        self.smear = float(np.exp(np.var(resid) / 2.0))

    def log_forecast(self, features: pd.DataFrame) -> np.ndarray:
        """Forecast of log per-bar variance over the horizon (before the smearing factor)."""
        x = self.design(features)
        log_v: np.ndarray = self.coef[0] + x @ np.asarray(self.coef[1:])
        return log_v

    def _predict(self, features: pd.DataFrame) -> np.ndarray:
        rv: np.ndarray = np.sqrt(self.horizon * self.smear * np.exp(self.log_forecast(features)))
        return rv

    def params(self) -> dict[str, Any]:
        return {"coef": self.coef, "smear": self.smear}

    def set_params(self, params: dict[str, Any]) -> None:
        self.coef = [float(c) for c in params["coef"]]
        self.smear = float(params["smear"])


def hour_of_week_factors(features: pd.DataFrame, mask: np.ndarray, shrink: float = 20.0) -> np.ndarray:
    """Relative variance of each hour of the week (mean 1), from standardized squared returns.

    r_t^2 is divided by the previous bar's weekly variance level so that calm and wild periods
    weigh alike, clipped at 50 against crashes, averaged per hour-of-week and shrunk towards 1.
    """
    r2 = features["log_ret"].to_numpy(float) ** 2
    level = features["rv168"].to_numpy(float) ** 2 / 168.0
    level = np.concatenate([[np.nan], level[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.clip(r2 / level, 0.0, 50.0)
    how = features["hour_of_week"].to_numpy(int)
    ok = mask & np.isfinite(z) & (level > 0)
    zs = z[ok] / z[ok].mean()
    sums = np.bincount(how[ok], weights=zs, minlength=168)
    counts = np.bincount(how[ok], minlength=168)
    f: np.ndarray = (sums + shrink) / (counts + shrink)
    return f / float(f.mean())


def seasonal_window_means(factors: np.ndarray, hours: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """For each hour-of-week h: mean factor over the last `hours` (h-hours+1..h) and the next (h+1..h+hours)."""
    idx = np.arange(168)
    past = np.array([factors[(h - np.arange(hours)) % 168].mean() for h in idx])
    nxt = np.array([factors[(h + 1 + np.arange(hours)) % 168].mean() for h in idx])
    return past, nxt


@register
class HarCalendarModel(HarModel):
    """HAR-RV (log) plus the calendar: weekend shares of the last/next 24 h and hour-of-week factors.

    Extra regressors: log of the mean hour-of-week variance factor over the last 24 h and the next
    24 h (factors fitted on the training part), and the weekend shares of both windows.
    """

    name = "har_calendar"
    inputs: ClassVar[tuple[str, ...]] = (
        *HarModel.inputs,
        "log_ret",
        "hour_of_week",
        "weekend_share_past24",
        "weekend_share_next24",
    )

    def __init__(self) -> None:
        super().__init__()
        self.factors: list[float] = [1.0] * 168

    def calendar_design(self, features: pd.DataFrame) -> np.ndarray:
        past, nxt = seasonal_window_means(np.asarray(self.factors))
        how = features["hour_of_week"].to_numpy(int)
        return np.column_stack(
            [
                np.log(past[how]),
                np.log(nxt[how]),
                features["weekend_share_past24"].to_numpy(float),
                features["weekend_share_next24"].to_numpy(float),
            ]
        )

    def design(self, features: pd.DataFrame) -> np.ndarray:
        return np.column_stack([har_design(features), self.calendar_design(features)])

    def _fit(self, features: pd.DataFrame, target: pd.Series, train_mask: np.ndarray) -> None:
        self.factors = [float(f) for f in hour_of_week_factors(features, train_mask)]
        super()._fit(features, target, train_mask)

    def params(self) -> dict[str, Any]:
        return {**super().params(), "factors": self.factors}

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        self.factors = [float(f) for f in params["factors"]]


def range_design(features: pd.DataFrame) -> np.ndarray:
    """log per-bar variance from ranges (Parkinson, Garman-Klass), the last 6 h, and EWMA."""
    return np.column_stack(
        [
            log_var(features["parkinson24"]) - np.log(24),
            log_var(features["garman_klass24"]) - np.log(24),
            log_var(features["rv6"]) - np.log(6),
            np.log(np.maximum(features["ewma_var"].to_numpy(float), 1e-14)),
        ]
    )


@register
class HarXModel(HarCalendarModel):
    """Calendar HAR plus range-based and short-horizon regressors (HAR-X, linear in logs).

    The strongest linear baseline: it uses the same origin features as the BiLSTM's static branch,
    so the table shows what the sequence model adds beyond a regression.
    """

    name = "har_x"
    inputs: ClassVar[tuple[str, ...]] = (*HarCalendarModel.inputs, "parkinson24", "garman_klass24", "rv6", "ewma_var")

    def design(self, features: pd.DataFrame) -> np.ndarray:
        return np.column_stack([har_design(features), range_design(features), self.calendar_design(features)])
