"""Per-pair promotion of a pooled model: bound to each of its pairs, gated there like any per-pair candidate.

For each pair of a pooled training (`training_pooled.train_pooled_logged`), the pooled model bound to
that pair (`pooled_pair.bind`) and calibrated on the pair's validation window goes through the one
promotion path (`crypto_mlops.models.promotion`):

1. `champion_forecast` re-forecasts the model serving the pair now (`champion-<pair>`, else `champion`)
   on the pair's window; `gate.score_window` scores it with the bound model and the pair's baselines.
2. `promote` registers the bound model with the pair's provenance (tags `data.pairs` = the pair,
   `pooled.pair`, `pooled.pairs`), gates it, and on a win moves `champion-<pair>` (and `champion`
   for the default pair).

`promote_pair` runs both at once (the CLI's `train --promote`). The pipeline runs them in two steps: its
train step registers `bound_model` (no alias moves), evaluate calls `score_pair` (step 1) and deploy
`promote_scored` (step 2) with the registered version.

As in a per-pair training, when the bound model loses, the pair's best baseline (fitted on that pair
alone in the same run) is gated next and registered only if it becomes the pair's champion.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.models.baselines import BASELINES
from crypto_mlops.models.gate import GateDecision, WindowScores, score_window
from crypto_mlops.models.pooled_pair import PooledPairModel, bind
from crypto_mlops.models.promotion import Contenders, PromotionResult, champion_forecast, promote
from crypto_mlops.models.provenance import Provenance
from crypto_mlops.models.registry import get_client, is_default_pair, pair_slug
from crypto_mlops.models.training_pooled import PooledTrainResult


@dataclass(frozen=True)
class PairPromotion:
    """One pair's outcome: the window scores and what the promotion path did."""

    pair: str
    scores: WindowScores
    result: PromotionResult

    @property
    def decision(self) -> GateDecision | None:
        return self.result.candidate.decision if self.result.candidate else None

    @property
    def version(self) -> str | None:
        """The bound model's registered version (None when the promotion was refused before gating)."""
        return self.result.candidate.version if self.result.candidate else None

    @property
    def moved(self) -> bool:
        return self.result.promoted is not None

    @property
    def baseline_promoted(self) -> str | None:
        """The pair's best baseline when it, not the bound model, became the pair's champion."""
        baseline = self.result.baseline
        return self.scores.best_baseline if baseline is not None and baseline.decision.promote else None

    def summary(self) -> dict[str, Any]:
        return {
            "pair": self.pair,
            "version": self.version,
            "decision": self.decision.model_dump() if self.decision else None,
            "champion_before": self.result.champion_before,
            "champion_after": self.result.champion_after,
            "aliases": self.result.aliases,
            "moved": self.moved,
            "baseline_promoted": self.baseline_promoted,
            "refused": self.result.refused,
            "notes": self.scores.notes,
        }


def bound_model(trained: PooledTrainResult, pair: str) -> PooledPairModel:
    """The pooled model of `trained` bound to `pair`, its confidence calibrated on `pair`'s validation window."""
    backtest, prepared = trained.backtests[pair], trained.prepared[pair]
    bound = bind(trained.model, pair)
    bound.calibrate(prepared.features, prepared.target, prepared.features.index.isin(backtest.predictions.index))
    return bound


def score_pair(
    predictions: pd.DataFrame, features: pd.DataFrame, candidate: str, pair: str, settings: Settings | None = None
) -> WindowScores:
    """Step 1 on one pair: its champion re-forecast at the window's origins (`predictions`: `realized` and one
    column per model), scored with the bound model (column `candidate`) and every baseline of the window."""
    baselines = [name for name in predictions.columns if name in BASELINES]
    champion = champion_forecast(predictions.index, features, settings, [pair])
    return score_window(predictions, candidate, baselines, champion)


def promote_scored(
    scores: WindowScores, contenders: Contenders, pair: str, settings: Settings | None = None, reason_prefix: str = ""
) -> PromotionResult:
    """Step 2 on one pair: `promotion.promote` on `pair`'s aliases, then the decision as a per-pair tag of the
    training's run (one run, one pooled model, several pairs)."""
    settings = settings or get_settings()
    result = promote(scores, contenders, settings, reason_prefix=reason_prefix, pairs=[pair])
    if result.candidate is not None and contenders.provenance is not None:
        reason = result.candidate.decision.reason
        get_client(settings).set_tag(contenders.provenance.mlflow_run_id, f"gate.decision.{pair_slug(pair)}", reason)
    return result


def promote_pair(trained: PooledTrainResult, pair: str, settings: Settings | None = None) -> PairPromotion:
    """Gate the pooled model of `trained`, bound to `pair`, against `pair`'s champion on `pair`'s window."""
    settings = settings or get_settings()
    bound = bound_model(trained, pair)
    scores = score_pair(
        trained.backtests[pair].predictions, trained.prepared[pair].features, bound.name, pair, settings
    )
    provenance = Provenance.of(trained.fingerprints[pair], trained.run_id)
    fitted = trained.backtests[pair].models  # the pair's own baselines: the fallback when the bound model loses
    models = {name: fitted[name] for name in BASELINES if name in fitted} | {bound.name: bound}
    result = promote_scored(scores, Contenders(models=models, provenance=provenance), pair, settings)
    return PairPromotion(pair, scores, result)


def promote_pooled(
    trained: PooledTrainResult, settings: Settings | None = None, pairs: Sequence[str] | None = None
) -> list[PairPromotion]:
    """`promote_pair` for each of `pairs` (default: every pair the model was trained on), the default pair
    first (as the pipeline does): it may move the global champion, which the other pairs may fall back on."""
    settings = settings or get_settings()
    ordered = sorted(pairs or trained.pairs, key=lambda pair: not is_default_pair(pair, settings))
    return [promote_pair(trained, pair, settings) for pair in ordered]
