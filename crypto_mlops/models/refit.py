"""Fitting a baseline on the candles of a request: the one refit path of serving (no registry needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.features.volatility import bars
from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.baselines import BASELINES, EWMAModel, RuleModel
from crypto_mlops.models.catalog import make_model, model_class
from crypto_mlops.models.target import horizon_bars, realized_vol_target

# Fitting a regression baseline needs this many origins with a known 24 h future and a full 30-day
# window (about 1000 candles); shorter frames get the EWMA baseline, which needs no fitting.
MIN_FIT_ORIGINS = 240
CALIBRATION_MIN_ORIGINS = 60


def fit_baseline(
    name: str, features: pd.DataFrame, bar_hours: float, *, strict: bool = False, calibrate: bool = True
) -> VolatilityModel:
    """Baseline `name` fitted on every origin of `features` with a known future and a full 30-day window.

    Too few such origins: EWMA instead (it needs no fitting; the returned model's `name` says so), or
    InvalidInput when `strict`. `calibrate` fits the confidence on the last third of the known origins.
    """
    if name not in BASELINES:
        raise InvalidInput(f"unknown baseline {name!r}; choose from {', '.join(BASELINES)}")
    target = realized_vol_target(features["log_ret"], horizon_bars(bar_hours))
    known = np.isfinite(target.to_numpy(float))
    # Only origins with a full 30-day window, so the monthly HAR term means the same when fitted and used.
    mask = known & (np.arange(len(features)) >= bars(720, bar_hours))
    if not issubclass(model_class(name), RuleModel) and mask.sum() < MIN_FIT_ORIGINS:
        if strict:
            raise InvalidInput(f"only {int(mask.sum())} origins to fit the {name} baseline on")
        name = EWMAModel.name
    model = make_model(name)
    model.fit(features, target, mask, bar_hours)
    if calibrate:
        _calibrate(model, features, target, known)
    return model


def _calibrate(model: VolatilityModel, features: pd.DataFrame, target: pd.Series, known: np.ndarray) -> None:
    calib = np.zeros(len(features), dtype=bool)
    known_pos = np.flatnonzero(known)
    calib[known_pos[-max(len(known_pos) // 3, 0) :]] = True
    if calib.sum() >= CALIBRATION_MIN_ORIGINS:
        try:
            model.calibrate(features, target, calib)
        except ValueError:
            model.confidence = None
