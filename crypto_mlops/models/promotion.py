"""The one promotion path: score candidate, champion and baselines on one window, gate, register, fall back.

1. `champion_forecast` re-forecasts the registry's champion on the validation window; `gate.score_window`
   scores it with the candidate and the baselines on the origins where all of them forecast.
2. `promote` applies the gate (`gate.gate_decision`) to the candidate; if it is rejected, to the best
   baseline (the champion may be a baseline). Each decision is written as `gate.*` tags on the version;
   a model that passes moves the champion alias(es) of its pairs. It refuses when that champion moved
   since the window was scored (two overlapping runs must not race).

Per pair: a model trained on one pair is gated on that pair's validation window against the model
serving the pair now (`champion-<pair>`, else the global `champion`) and moves `champion-<pair>`
(and `champion` too for the default pair, as before pairs existed); a model trained on several
pairs (pooled) is gated against, and moves, the global `champion`. `pairs` defaults to the
provenance's (`data.pairs` tag); pass it to gate one model on one pair's window explicitly.
A pooled model bound to one of its pairs (`pooled_pair.bind`) is such a one-pair model:
`promotion_pooled.promote_pooled` runs steps 1 and 2 for each pair of a pooled training.

`crypto-mlops train` (`training.train_and_register`) runs both back to back; the pipeline runs 1 in its
evaluate step and 2 in its deploy step. Every version registered here (`register_version`) carries the
same tags: `model_type`, `data.*`, `pipeline.*`, and the `gate.*` tags once it has been gated.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import pandas as pd
from pydantic import BaseModel

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.gate import ChampionForecast, GateDecision, WindowScores, gate_decision
from crypto_mlops.models.provenance import ROLE_BASELINE, ROLE_CANDIDATE, Provenance
from crypto_mlops.models.pyfunc import load_volatility_model, log_pyfunc
from crypto_mlops.models.registry import (
    get_client,
    lookup_aliases,
    move_aliases,
    resolve_version,
    target_aliases,
)

# Tag of the training's MLflow run holding each role's gate reason.
RUN_TAGS = {ROLE_CANDIDATE: "gate.decision", ROLE_BASELINE: "gate.baseline_decision"}


def register_version(model: VolatilityModel, provenance: Provenance, role: str, settings: Settings) -> str:
    """Log `model` as a pyfunc into the training's MLflow run and register it with the provenance's tags and
    the model's own (`version_tags`: a pooled model's pair); `champion` is not touched."""
    client = get_client(settings)
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_id=provenance.mlflow_run_id):
        info = log_pyfunc(model, Path(tmp), registered_model_name=settings.model_name)
    version = str(info.registered_model_version)
    for key, value in {**provenance.tags(model.name, role), **model.version_tags()}.items():
        client.set_model_version_tag(settings.model_name, version, key, value)
    return version


def champion_forecast(
    index: pd.Index, features: pd.DataFrame, settings: Settings | None = None, pairs: Sequence[str] = ()
) -> ChampionForecast | None:
    """Step 1: the champion serving `pairs` (None: there is none) re-forecast at the window's origins `index`,
    from `features` (the training frame's feature rows); `gate.score_window` then scores it with the rest.
    One pair: its own champion, else the global one; several or none: the global one."""
    settings = settings or get_settings()
    current = resolve_version(get_client(settings), settings.model_name, lookup_aliases(list(pairs), settings))
    if current is None:
        return None
    version = str(current.version)
    model_type = dict(current.tags or {}).get("model_type")
    try:
        model = load_volatility_model(f"models:/{settings.model_name}/{version}")
        forecast = model.predict(features, features.index.isin(index)).reindex(index).to_numpy(float)
    except Exception as exc:  # an incompatible or broken champion must not block a better model
        problem = f"champion v{version} could not be evaluated: {type(exc).__name__}: {exc}"
        return ChampionForecast(version, model_type or "?", None, problem)
    return ChampionForecast(version, model_type or model.name, forecast)


@dataclass(frozen=True)
class Contenders:
    """The models `promote` may register or promote: already registered (`versions`) or fitted in memory
    (`models`, registered on demand with `provenance`)."""

    versions: Mapping[str, str] = field(default_factory=dict)
    models: Mapping[str, VolatilityModel] = field(default_factory=dict)
    provenance: Provenance | None = None


class GateOutcome(BaseModel):
    decision: GateDecision
    version: str | None = None  # None: not registered (a baseline is registered only to become champion)


class PromotionResult(BaseModel):
    champion_before: str | None
    champion_after: str | None
    aliases: list[str] = []  # the aliases a promotion moves (or would have moved)
    candidate: GateOutcome | None = None
    baseline: GateOutcome | None = None
    refused: str | None = None  # why nothing was gated (champion moved since scoring)

    @property
    def attempts(self) -> list[GateOutcome]:
        return [o for o in (self.candidate, self.baseline) if o is not None]

    @property
    def promoted(self) -> GateOutcome | None:
        return next((o for o in self.attempts if o.decision.promote and o.version), None)


def _v(version: str | None) -> str:
    return f"v{version}" if version else "none"


def promote(
    scores: WindowScores,
    contenders: Contenders,
    settings: Settings | None = None,
    reason_prefix: str = "",
    pairs: Sequence[str] | None = None,
) -> PromotionResult:
    """Step 2: gate the candidate, else the best baseline; tag, register when needed, move the champion
    alias(es) of `pairs` (default: the pairs of the contenders' provenance; see the module docstring)."""
    settings = settings or get_settings()
    client = get_client(settings)
    if pairs is None:
        pairs = contenders.provenance.pairs if contenders.provenance is not None else []
    current = resolve_version(client, settings.model_name, lookup_aliases(list(pairs), settings))
    now = str(current.version) if current is not None else None
    aliases = target_aliases(list(pairs), settings)
    result = PromotionResult(champion_before=now, champion_after=now, aliases=aliases)
    if scores.champion_version != now:
        result.refused = (
            f"not promoted: champion moved from {_v(scores.champion_version)} to {_v(now)} since "
            "evaluation (another run); the next run re-evaluates"
        )
        return result
    gate = _Gate(scores, contenders, settings, reason_prefix, aliases)
    result.candidate = gate(scores.candidate, ROLE_CANDIDATE)
    if not result.candidate.decision.promote and scores.best_baseline != scores.candidate:
        result.baseline = gate(scores.best_baseline, ROLE_BASELINE)
    promoted = result.promoted
    if promoted is not None:
        result.champion_after = promoted.version
    return result


@dataclass(frozen=True)
class _Gate:
    """One promotion's context: gates a contender by name and moves `aliases` when it passes."""

    scores: WindowScores
    contenders: Contenders
    settings: Settings
    reason_prefix: str
    aliases: list[str]

    def __call__(self, name: str, role: str) -> GateOutcome:
        contenders, settings = self.contenders, self.settings
        decision = gate_decision(self.scores, name)
        version = contenders.versions.get(name)
        # Register a fitted model now if it is the candidate (its decision is recorded either way) or if it
        # becomes champion; a rejected baseline is not worth a version.
        if version is None and name in contenders.models and (role == ROLE_CANDIDATE or decision.promote):
            if contenders.provenance is None:
                raise ValueError(f"cannot register {name}: no provenance given")
            version = register_version(contenders.models[name], contenders.provenance, role, settings)
        if version is None:
            return GateOutcome(decision=decision)
        client = get_client(settings)
        for key, value in decision.tags().items():
            client.set_model_version_tag(settings.model_name, version, key, value)
        if contenders.provenance is not None:
            client.set_tag(contenders.provenance.mlflow_run_id, RUN_TAGS[role], decision.reason)
        if decision.promote:
            move_aliases(client, settings, self.aliases, version, self.reason_prefix + decision.reason)
        return GateOutcome(decision=decision, version=version)
