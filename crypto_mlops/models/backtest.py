"""Out-of-sample backtest: train every model on the first part, score all on the rest (SPEC §5)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crypto_mlops.data.quality import regularize
from crypto_mlops.data.schema import timeframe_hours
from crypto_mlops.features import model_features
from crypto_mlops.features.volatility import bars
from crypto_mlops.models import metrics
from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.baselines import BASELINES, REFERENCE
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.catalog import known_names, make_model
from crypto_mlops.models.target import Split, chronological_split, horizon_bars, realized_vol_target

DM_LAGS = 24
WARMUP_HOURS = 720  # the monthly HAR component needs a full month


@dataclass
class Prepared:
    frame: pd.DataFrame
    features: pd.DataFrame
    target: pd.Series
    bar_hours: float
    filled: int

    @property
    def horizon(self) -> int:
        return horizon_bars(self.bar_hours)


def contenders(models: list[str] | None) -> list[str]:
    """The models to score (default: every one), the DM reference among them; KeyError names unknown ones."""
    known = known_names()  # listed without importing torch: a baseline-only run never loads it
    names = models or known
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown model(s) {unknown}; choose from {', '.join(known)}")
    return names if REFERENCE in names else [REFERENCE, *names]


def prepare(frame: pd.DataFrame, timeframe: str = "1h") -> Prepared:
    """Regularize the grid (gaps filled flat), compute features and the RV24 target."""
    bar_hours = timeframe_hours(timeframe)
    regular, filled = regularize(frame, timeframe)
    features = model_features(regular, bar_hours)
    target = realized_vol_target(features["log_ret"], horizon_bars(bar_hours))
    return Prepared(regular, features, target, bar_hours, len(filled))


class ForecastTable:
    """What a backtest result of either mode exports: its JSON and its predictions file."""

    predictions: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def predictions_csv(self) -> pd.DataFrame:
        out = self.predictions.drop(columns=["realized"]).copy()
        out.index = [ts.isoformat() for ts in pd.DatetimeIndex(out.index)]
        out.index.name = "timestamp"
        return out


@dataclass
class BacktestResult(ForecastTable):
    table: list[dict[str, Any]]
    predictions: pd.DataFrame  # index timestamp; columns realized + one per model (RV24 decimal)
    split: dict[str, Any]
    models: dict[str, VolatilityModel] = field(default_factory=dict)
    fit_seconds: dict[str, float] = field(default_factory=dict)

    def row(self, name: str) -> dict[str, Any]:
        return next(r for r in self.table if r["model"] == name)

    def best(self, names: list[str]) -> dict[str, Any]:
        rows = [r for r in self.table if r["model"] in names]
        return min(rows, key=lambda r: r["qlike"])

    def to_dict(self) -> dict[str, Any]:
        return {"split": self.split, "table": self.table, "fit_seconds": self.fit_seconds}


def score(
    realized: np.ndarray, forecasts: dict[str, np.ndarray], reference: str = REFERENCE, lags: int = DM_LAGS
) -> list[dict[str, Any]]:
    """Metric table over a common set of origins (all forecasts finite and positive)."""
    ref_loss = metrics.qlike_losses(realized, forecasts[reference]) if reference in forecasts else None
    rows = []
    for name, f in forecasts.items():
        losses = metrics.qlike_losses(realized, f)
        dm_t, dm_p = (float("nan"), float("nan"))
        if ref_loss is not None and name != reference:
            dm_t, dm_p = metrics.diebold_mariano(losses, ref_loss, lags)
        rows.append(
            {
                "model": name,
                "qlike": float(losses.mean()),
                "qlike_vs_har": float(losses.mean() / ref_loss.mean()) if ref_loss is not None else float("nan"),
                "mse": metrics.mse(realized, f),
                "mae": metrics.mae(realized, f),
                "mz_r2": metrics.mincer_zarnowitz_r2(realized, f),
                "dm_t": dm_t,
                "dm_p": dm_p,
                "n": len(realized),
            }
        )
    return rows


def run_backtest(
    prepared: Prepared,
    train_frac: float = 0.7,
    models: list[str] | None = None,
    bilstm_config: BiLSTMConfig | None = None,
    on_model: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Fit `models` (default: all) on the first `train_frac`, forecast every later origin, score them."""
    names = contenders(models)
    split = chronological_split(len(prepared.features), train_frac, prepared.horizon)
    fitted, forecasts, seconds, _ = fit_and_forecast(prepared, split, names, bilstm_config, on_model)
    return scored_result(prepared, split, fitted, forecasts, seconds)


def fit_and_forecast(
    prepared: Prepared,
    split: Split,
    names: list[str],
    bilstm_config: BiLSTMConfig | None = None,
    on_model: Callable[[str], None] | None = None,
) -> tuple[dict[str, VolatilityModel], dict[str, np.ndarray], dict[str, float], np.ndarray]:
    """Each model fitted on the split's training origins and its forecasts of the test origins; the train mask."""
    f, y = prepared.features, prepared.target
    train_mask = split.train_mask() & (np.arange(len(f)) >= bars(WARMUP_HOURS, prepared.bar_hours))
    test_mask = split.test_mask()
    if train_mask.sum() < 200:
        raise ValueError(f"only {int(train_mask.sum())} training origins after the {WARMUP_HOURS} h warm-up")

    fitted: dict[str, VolatilityModel] = {}
    forecasts: dict[str, np.ndarray] = {}
    seconds: dict[str, float] = {}
    for name in names:
        if on_model:
            on_model(name)
        start = time.perf_counter()
        model = make_model(name, bilstm_config=bilstm_config)
        model.fit(f, y, train_mask, prepared.bar_hours)
        forecasts[name] = model.predict(f, test_mask).to_numpy()
        seconds[name] = round(time.perf_counter() - start, 2)
        fitted[name] = model
    return fitted, forecasts, seconds, train_mask


def scored_result(
    prepared: Prepared,
    split: Split,
    fitted: dict[str, VolatilityModel],
    forecasts: dict[str, np.ndarray],
    seconds: dict[str, float],
) -> BacktestResult:
    """Score every forecast on the test origins they all cover; calibrate the confidence of the `fitted` ones."""
    f, y = prepared.features, prepared.target
    realized = y.to_numpy(float)
    common = split.test_mask() & np.isfinite(realized)
    for fc in forecasts.values():
        common &= np.isfinite(fc) & (fc > 0)
    if common.sum() < 10:
        raise ValueError("fewer than 10 test origins where every model has a forecast")
    for model in fitted.values():
        model.calibrate(f, y, common)
    table = score(realized[common], {n: fc[common] for n, fc in forecasts.items()})
    index = f.index[common]
    predictions = pd.DataFrame(
        {"realized": realized[common], **{n: fc[common] for n, fc in forecasts.items()}}, index=index
    )
    predictions.index.name = "timestamp"
    return BacktestResult(table, predictions, split_info(f.index, split, common, prepared), fitted, seconds)


def split_info(index: pd.Index, split: Split, scored: np.ndarray, prepared: Prepared) -> dict[str, Any]:
    idx = pd.DatetimeIndex(index)
    scored_idx = idx[scored]
    return {
        "rows": split.n,
        "filled_bars": prepared.filled,
        "bar_hours": prepared.bar_hours,
        "horizon_bars": split.horizon,
        "train_start": idx[0].isoformat(),
        "train_end": idx[split.train_end - 1].isoformat(),
        "test_start": scored_idx[0].isoformat(),
        "test_end": scored_idx[-1].isoformat(),
        "test_origins": int(scored.sum()),
        "dm_reference": REFERENCE,
        "dm_hac_lags": DM_LAGS,
    }


# `model_features` is re-exported for callers that still import it from here (it lives in features).
__all__ = ["BASELINES", "BacktestResult", "Prepared", "model_features", "prepare", "run_backtest", "score"]
