"""The champion gate as pure functions: score the contenders on one window, decide, say why.

Rule (SPEC §5): a model may become champion only if its QLIKE is lower than the best baseline's
(or it is that baseline) and lower than the current champion's, all computed on the *same*
validation origins. `crypto_mlops.models.promotion` applies the decision to the registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from crypto_mlops.models import metrics

MIN_WINDOW_ORIGINS = 10


class ModelScores(BaseModel):
    qlike: float
    mse: float
    mae: float


@dataclass(frozen=True)
class ChampionForecast:
    """The registry's champion at scoring time and its forecasts on the window (None: not evaluable)."""

    version: str
    model_type: str
    forecast: np.ndarray | None  # aligned with the window's index
    problem: str | None = None


class WindowScores(BaseModel):
    """Every contender scored on the same validation origins (what the gate decides on)."""

    candidate: str
    best_baseline: str
    table: dict[str, ModelScores] = Field(description="Model (or 'champion vN') -> QLIKE, MSE, MAE.")
    champion_version: str | None = Field(None, description="The registry's champion when the window was scored.")
    champion_model: str | None = Field(None, description="Its model type.")
    champion_key: str | None = Field(None, description="Its row in `table`; None when it could not be scored.")
    window_start: str
    window_end: str
    window_origins: int
    notes: list[str] = Field(default_factory=list)

    def qlike(self, name: str) -> float:
        return self.table[name].qlike

    @property
    def champion_qlike(self) -> float | None:
        return self.table[self.champion_key].qlike if self.champion_key else None


class GateDecision(BaseModel):
    promote: bool
    reason: str
    candidate: str
    candidate_qlike: float
    best_baseline: str
    best_baseline_qlike: float
    champion_version: str | None = None
    champion_model: str | None = None
    champion_qlike: float | None = None
    window_start: str | None = None
    window_end: str | None = None
    window_origins: int = 0

    def tags(self) -> dict[str, str]:
        """`gate.<field>` version tags (floats with 6 decimals, None as empty)."""
        return {
            f"gate.{k}": "" if v is None else (f"{v:.6f}" if isinstance(v, float) else str(v))
            for k, v in self.model_dump().items()
        }


def _scores(realized: np.ndarray, forecast: np.ndarray) -> ModelScores:
    qlike, mse, mae = (f(realized, forecast) for f in (metrics.qlike, metrics.mse, metrics.mae))
    return ModelScores(qlike=qlike, mse=mse, mae=mae)


def _usable(values: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        usable: np.ndarray = np.isfinite(values) & (values > 0)
    return usable


def score_window(
    predictions: pd.DataFrame,
    candidate: str,
    baselines: Sequence[str],
    champion: ChampionForecast | None = None,
    report: Sequence[str] = (),
) -> WindowScores:
    """Score `candidate`, `baselines` (the best of which the candidate must beat), `report` (shown only)
    and the champion on the origins of `predictions` (columns `realized` + one per model) where all of
    them forecast. A champion with fewer than 10 forecasts there is left out, with a note."""
    names = list(dict.fromkeys([candidate, *baselines, *report]))
    realized = predictions["realized"].to_numpy(float)
    common = np.isfinite(realized)
    for name in names:
        common &= _usable(predictions[name].to_numpy(float))
    notes: list[str] = []
    champion_key = None
    if champion is not None:
        if champion.forecast is None:
            notes.append(champion.problem or f"champion v{champion.version} could not be evaluated")
        elif (common & _usable(champion.forecast)).sum() < MIN_WINDOW_ORIGINS:
            notes.append("champion has no forecasts on this window")
        else:
            common &= _usable(champion.forecast)
            champion_key = f"champion v{champion.version}"
    if common.sum() < MIN_WINDOW_ORIGINS:
        raise ValueError(f"only {int(common.sum())} validation origins where every model forecasts")
    table = {name: _scores(realized[common], predictions[name].to_numpy(float)[common]) for name in names}
    if champion_key is not None and champion is not None and champion.forecast is not None:
        table[champion_key] = _scores(realized[common], champion.forecast[common])
    index = pd.DatetimeIndex(predictions.index[common])
    return WindowScores(
        candidate=candidate,
        best_baseline=min(baselines, key=lambda name: table[name].qlike),
        table=table,
        champion_version=champion.version if champion else None,
        champion_model=champion.model_type if champion else None,
        champion_key=champion_key,
        window_start=index[0].isoformat(),
        window_end=index[-1].isoformat(),
        window_origins=int(common.sum()),
        notes=notes,
    )


def decide(
    candidate: str,
    candidate_qlike: float,
    best_baseline: str,
    best_baseline_qlike: float,
    champion_qlike: float | None,
    champion_version: str | None = None,
) -> tuple[bool, str]:
    """Pure gate rule: lower QLIKE than the best baseline (or be it) and than the champion."""
    if candidate != best_baseline and not candidate_qlike < best_baseline_qlike:
        return False, (
            f"rejected: QLIKE {candidate_qlike:.4f} does not beat the best baseline "
            f"{best_baseline} ({best_baseline_qlike:.4f})"
        )
    if champion_qlike is None:
        return True, f"promoted: no comparable champion; beats or is the best baseline ({best_baseline_qlike:.4f})"
    if not candidate_qlike < champion_qlike:
        return False, (
            f"rejected: QLIKE {candidate_qlike:.4f} does not beat champion v{champion_version} ({champion_qlike:.4f})"
        )
    return True, (
        f"promoted: QLIKE {candidate_qlike:.4f} beats champion v{champion_version} ({champion_qlike:.4f}) "
        f"and best baseline {best_baseline} ({best_baseline_qlike:.4f})"
    )


def gate_decision(scores: WindowScores, name: str) -> GateDecision:
    """The gate's decision for contender `name` (the candidate or the best baseline) on `scores`."""
    champion_qlike = scores.champion_qlike
    # The champion a decision was compared with: none when it could not be scored on the window.
    champion = scores.champion_version if champion_qlike is not None else None
    best = scores.best_baseline
    promote, reason = decide(name, scores.qlike(name), best, scores.qlike(best), champion_qlike, champion)
    return GateDecision(
        promote=promote,
        reason=reason,
        candidate=name,
        candidate_qlike=scores.qlike(name),
        best_baseline=best,
        best_baseline_qlike=scores.qlike(best),
        champion_version=champion,
        champion_model=scores.champion_model if champion else None,
        champion_qlike=champion_qlike,
        window_start=scores.window_start,
        window_end=scores.window_end,
        window_origins=scores.window_origins,
    )
