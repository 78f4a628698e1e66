"""Pooled training on several pairs: one stacked feature frame with a pair code, and pair effects.

Features are computed per pair (never across a pair boundary), then stacked; the column `pair_code`
says which pair a row belongs to (its position in the model's `pairs`; -1 for a pair the model was
not trained on). Inputs are scale-free (log variances relative to each pair's own levels), so one set
of coefficients or weights serves every pair; the HAR base adds one intercept per pair (fixed
effects), and a pair it has not seen gets their mean.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.har import HarModel, HarXModel
from crypto_mlops.models.har_semiq import HarXsqModel

PAIR_CODE = "pair_code"
UNSEEN = -1

# Per pair: features, target, and the origins to fit on.
PairPart = tuple[pd.DataFrame, pd.Series, np.ndarray]


def stack_pairs(parts: Mapping[str, PairPart]) -> tuple[pd.DataFrame, pd.Series, np.ndarray]:
    """One frame, target and mask of all pairs, in the order of `parts`, with `pair_code` = that order."""
    if not parts:
        raise ValueError("pooled training needs at least one pair")
    frames = [f.assign(**{PAIR_CODE: code}) for code, (f, _, _) in enumerate(parts.values())]
    target = pd.concat([y for _, y, _ in parts.values()])
    mask = np.concatenate([np.asarray(m, bool) for _, _, m in parts.values()])
    return pd.concat(frames), target, mask


def pair_codes(features: pd.DataFrame) -> np.ndarray:
    """The pair code of every row (UNSEEN where the frame carries none)."""
    if PAIR_CODE not in features.columns:
        return np.full(len(features), UNSEEN, dtype=int)
    codes: np.ndarray = features[PAIR_CODE].to_numpy(int)
    return codes


def rows_in_pair(features: pd.DataFrame) -> np.ndarray:
    """Position of every row within its own pair's block (0 at each block's first row)."""
    codes = pair_codes(features)
    n = len(codes)
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if n else np.zeros(0, int)
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    rows: np.ndarray = np.arange(n) - first
    return rows


class PairAware:
    """A model fitted on several pairs at once that forecasts for any one of them."""

    pairs: list[str]
    fit: Any
    predict: Any

    def fit_pooled(self, parts: Mapping[str, PairPart], bar_hours: float = 1.0) -> VolatilityModel:
        """Fit on every pair of `parts` (pair name -> features, target, training mask)."""
        self.pairs = list(parts)
        features, target, mask = stack_pairs(parts)
        fitted: VolatilityModel = self.fit(features, target, mask, bar_hours)
        return fitted

    def code_of(self, pair: str | None) -> int:
        return self.pairs.index(pair) if pair in self.pairs else UNSEEN

    def predict_pair(self, features: pd.DataFrame, pair: str | None, mask: np.ndarray | None = None) -> pd.Series:
        """RV24 forecasts on one pair's features; a pair outside `pairs` (or None) gets the pairs' mean effect."""
        forecast: pd.Series = self.predict(features.assign(**{PAIR_CODE: self.code_of(pair)}), mask)
        return forecast


class _PairEffects(PairAware, HarModel):
    """A HAR-family model with one intercept per pair (dummies for all but the first pair)."""

    def __init__(self) -> None:
        super().__init__()
        self.pairs: list[str] = []

    def pair_design(self, features: pd.DataFrame) -> np.ndarray:
        k, n = len(self.pairs), len(features)
        if k < 2:
            return np.zeros((n, 0))
        codes = pair_codes(features)
        dummies = np.zeros((n, k - 1))
        known = codes >= 1
        dummies[np.flatnonzero(known), codes[known] - 1] = 1.0
        dummies[codes == UNSEEN] = 1.0 / k  # the mean of the k intercepts
        return dummies

    def design(self, features: pd.DataFrame) -> np.ndarray:
        return np.column_stack([super().design(features), self.pair_design(features)])

    def params(self) -> dict[str, Any]:
        return {**super().params(), "pairs": self.pairs}

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        self.pairs = list(params.get("pairs", []))


class PooledHarXModel(_PairEffects, HarXModel):
    """`har_x` fitted on several pairs: common slopes, one intercept per pair."""

    name = "har_x_pooled"
    inputs: ClassVar[tuple[str, ...]] = HarXModel.inputs


class PooledHarXsqModel(_PairEffects, HarXsqModel):
    """`har_xsq` fitted on several pairs: common slopes, one intercept per pair."""

    name = "har_xsq_pooled"
    inputs: ClassVar[tuple[str, ...]] = HarXsqModel.inputs


POOLED_BASES: dict[str, type[PooledHarXModel] | type[PooledHarXsqModel]] = {
    "har_x": PooledHarXModel,
    "har_xsq": PooledHarXsqModel,
}
