"""Steps 4-6: train -> evaluate -> deploy, on the models package's training and promotion path, per pair.

Typed in and out (`pipeline.manifests`); `pipeline.tasks` converts to and from dicts for Airflow.
Every step works on each pair of the run (PIPELINE_SYMBOLS; the default pair first): each pair is
trained on its own candles, gated on its own validation window against the model serving it now
(`champion-<pair>`, else the global `champion`) and promoted to its own alias `champion-<pair>`
(the default pair also moves `champion`, as before pairs existed). An outcome's `details` is the
first pair's, `other_pairs` the rest. With PIPELINE_TRAIN_POOLED and 2+ pairs, train fits one pooled
model over all of them instead (`pipeline.pooled`); evaluate and deploy still work per pair.

train     applies the retrain rule to each pair; where it says so, trains every baseline and the
          candidate (`train_and_register(register=False)`: one MLflow run with params, losses,
          backtest table, plot, data fingerprint), registers the candidate and the best baseline as
          versions *without* moving any alias, and saves the validation-window forecasts and the
          candles to the models bucket.
evaluate  step 1 of the promotion path (`promotion.champion_forecast` + `gate.score_window`):
          candidate, best baseline, HAR and the pair's current champion (re-forecast from its
          registered artifact) scored on the same validation origins (QLIKE, MSE, MAE).
deploy    step 2 (`promotion.promote`): the candidate must beat the best baseline and the champion;
          else the best baseline may be promoted if it beats the champion (the champion may be a
          baseline). The decisions are `gate.*` tags on the versions and a JSON record. If the pair's
          champion moved since evaluate (a concurrent run), nothing is promoted for it: no racing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from crypto_mlops.config import Settings, TrainingSettings, get_settings
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.schema import normalize_symbol
from crypto_mlops.models.provenance import ROLE_BASELINE, ROLE_CANDIDATE, Provenance
from crypto_mlops.models.registry import current_champion, target_aliases
from crypto_mlops.pipeline import history, layout, pooled, retrain
from crypto_mlops.pipeline.errors import PipelineFailed
from crypto_mlops.pipeline.manifests import (
    Deployment,
    DeployOutcome,
    EvaluateOutcome,
    Evaluation,
    GateRecord,
    RunContext,
    StepOutcome,
    SymbolManifest,
    TrainDetails,
    TrainedModels,
    TrainOutcome,
)
from crypto_mlops.pipeline.store import Store, open_store

if TYPE_CHECKING:
    from crypto_mlops.models.bilstm_config import BiLSTMConfig

__all__ = ["current_champion", "deploy", "evaluate", "train"]

Outcome = TypeVar("Outcome", bound=StepOutcome)


def _v(version: str | None) -> str:
    return f"v{version}" if version else "none"


def _record(store: Store, outcome: Outcome) -> Outcome:
    outcome.key = layout.run_key(outcome.run_id, f"{outcome.step}.json")
    store.put_json(layout.MODELS, outcome.key, outcome.model_dump(mode="json"))
    return outcome


def _resolve(store: Store | None, settings: Settings | None) -> tuple[Store, Settings]:
    settings = settings or get_settings()
    return store or open_store(settings), settings


def _primary(context: RunContext, settings: Settings) -> str:
    default = normalize_symbol(settings.default_symbol)
    return default if default in context.symbols else context.symbols[0]


def _bilstm_config(training: TrainingSettings) -> BiLSTMConfig:
    from crypto_mlops.models.bilstm_config import BiLSTMConfig

    config = BiLSTMConfig.tiny() if training.profile == "tiny" else BiLSTMConfig(progress=False)
    if training.max_seconds:
        config.max_train_seconds = training.max_seconds
    return config


def _ordered(context: RunContext, manifests: list[SymbolManifest], settings: Settings) -> list[SymbolManifest]:
    """The run's pairs that have a manifest, the primary (default) pair first."""
    primary = _primary(context, settings)
    known = [m for m in manifests if m.symbol in context.symbols] or manifests
    return sorted(known, key=lambda m: m.symbol != primary)


def _joined(parts: list[tuple[str, str]]) -> str:
    """One pair: its reason as it is; several: `PAIR: reason | PAIR: reason`."""
    if len(parts) == 1:
        return parts[0][1]
    return " | ".join(f"{symbol}: {reason}" for symbol, reason in parts)


def train(
    context: RunContext,
    manifests: list[SymbolManifest],
    store: Store | None = None,
    settings: Settings | None = None,
    on_step: Callable[[str], None] | None = None,
) -> TrainOutcome:
    """Retrain each pair where the rule says so; register candidate + best baseline (no promotion here).

    `on_step` receives progress messages ("fitting garch", "ETH/USDT: fitting bilstm", ...).
    """
    store, settings = _resolve(store, settings)
    training = TrainingSettings()
    ordered = _ordered(context, manifests, settings)
    names = [m.symbol for m in ordered]
    outcome = TrainOutcome(run_id=context.run_id, done=False)
    if not ordered:
        outcome.reason = "no retrain: no pair passed validation"
        return _record(store, outcome)
    parts: list[tuple[str, str]] = []
    details: list[TrainDetails] = []
    if pooled.is_pooled(names, training):  # one model over every pair (PIPELINE_TRAIN_POOLED)
        bilstm = _bilstm_config(training) if training.candidate.startswith("bilstm") else None
        details, reason, outcome.pooled = pooled.train(context, ordered, store, settings, training, bilstm, on_step)
        parts.append(("", reason))
    else:
        for manifest in ordered:
            step = on_step
            if on_step is not None and len(ordered) > 1:
                step = partial(_prefixed, on_step, manifest.symbol)
            others = [n for n in names if n != manifest.symbol]
            pair, reason = _train_pair(context, manifest, others, store, settings, training, step)
            details.append(pair)
            parts.append((manifest.symbol, reason))
    outcome.details, outcome.other_pairs = details[0], details[1:]
    outcome.done = any(d.trained is not None for d in details)
    outcome.reason = _joined(parts)
    return _record(store, outcome)


def _prefixed(on_step: Callable[[str], None], symbol: str, message: str) -> None:
    on_step(f"{symbol}: {message}")


def _train_pair(
    context: RunContext,
    manifest: SymbolManifest,
    others: list[str],
    store: Store,
    settings: Settings,
    training: TrainingSettings,
    on_step: Callable[[str], None] | None,
) -> tuple[TrainDetails, str]:
    symbol = manifest.symbol
    details = retrain.assess(store, manifest, context.timeframe, others, settings)
    series, decision = details.series, details.decision
    if not decision.retrain:
        return details, f"no retrain ({symbol}): {decision.reason}"

    from crypto_mlops.models.baselines import BASELINES
    from crypto_mlops.models.promotion import register_version
    from crypto_mlops.models.training import train_and_register

    candles = history.load_history(store, series)
    if training.max_bars:
        candles = candles.tail(training.max_bars)
    data = MarketData(candles, symbol, context.timeframe, manifest.data_source or context.source)
    try:
        result = train_and_register(
            data,
            settings,
            train_frac=training.train_frac,
            candidate=training.candidate,
            bilstm_config=_bilstm_config(training),
            register=False,
            on_step=on_step,
        )
    except ValueError as exc:  # too few candles for the warm-up and split
        raise PipelineFailed("train", f"cannot train on {len(candles)} candles of {symbol}: {exc}") from exc
    backtest = result.backtest
    best_baseline = backtest.best([n for n in BASELINES if n in backtest.models])["model"]
    window_key, frame_key = history.store_training_inputs(
        store, context.run_id, manifest.slug, backtest.predictions, candles
    )
    provenance = Provenance.of(result.fingerprint, result.run_id, pipeline_run_id=context.run_id)
    candidate_version = register_version(backtest.models[training.candidate], provenance, ROLE_CANDIDATE, settings)
    baseline_version = None
    if best_baseline != training.candidate:
        baseline_version = register_version(backtest.models[best_baseline], provenance, ROLE_BASELINE, settings)
    history.record_training(store, series, context.run_id, symbol, candles, result.run_id, candidate_version)
    details.trained = TrainedModels(
        provenance=provenance,
        candidate=training.candidate,
        candidate_version=candidate_version,
        best_baseline=best_baseline,
        baseline_version=baseline_version,
        window_key=window_key,
        frame_key=frame_key,
        timeframe=context.timeframe,
        backtest=backtest.to_dict(),
    )
    reason = (
        f"retrained on {len(candles):,} {symbol} candles because {decision.reason}; "
        f"registered {training.candidate} v{candidate_version}"
        + (f" and best baseline {best_baseline} v{baseline_version}" if baseline_version else "")
    )
    return details, reason


def evaluate(trained: TrainOutcome, store: Store | None = None, settings: Settings | None = None) -> EvaluateOutcome:
    """Per trained pair: candidate vs best baseline vs HAR vs the pair's champion on the same validation origins."""
    store, settings = _resolve(store, settings)
    outcome = EvaluateOutcome(run_id=trained.run_id, done=False)
    pairs = [d for d in trained.pairs if d.trained is not None] if trained.done else []
    if not pairs:
        outcome.reason = "skipped: nothing was trained"
        return _record(store, outcome)
    evaluations = [_evaluate_pair(d.symbol, d.trained, store, settings) for d in pairs if d.trained is not None]
    outcome.done = True
    outcome.details, outcome.other_pairs = evaluations[0], evaluations[1:]
    parts = []
    for scores in evaluations:
        ranked = sorted(scores.table.items(), key=lambda item: item[1].qlike)
        parts.append(
            (
                scores.provenance.symbol,
                f"QLIKE on {scores.window_origins} common validation origins: "
                + ", ".join(f"{name} {s.qlike:.4f}" for name, s in ranked),
            )
        )
    outcome.reason = _joined(parts)
    return _record(store, outcome)


def _evaluate_pair(symbol: str, models: TrainedModels, store: Store, settings: Settings) -> Evaluation:
    from crypto_mlops.models.backtest import prepare
    from crypto_mlops.models.gate import score_window
    from crypto_mlops.models.promotion import champion_forecast

    window = store.get_parquet(layout.MODELS, models.window_key)
    features = prepare(store.get_parquet(layout.MODELS, models.frame_key), models.timeframe).features
    champion = champion_forecast(window.index, features, settings, models.provenance.pairs)
    report = ["har"] if "har" in window else []
    try:
        scores = score_window(window, models.candidate, [models.best_baseline], champion, report)
    except ValueError as exc:
        raise PipelineFailed("evaluate", f"{symbol}: {exc}") from exc
    return Evaluation(
        **scores.model_dump(),
        candidate_version=models.candidate_version,
        baseline_version=models.baseline_version,
        provenance=models.provenance,
        pooled_pairs=models.pooled_pairs,
    )


def deploy(evaluated: EvaluateOutcome, store: Store | None = None, settings: Settings | None = None) -> DeployOutcome:
    """Per evaluated pair: apply the gate; move the pair's champion (candidate first, else the best baseline)."""
    store, settings = _resolve(store, settings)
    evaluations = evaluated.pairs if evaluated.done else []
    if not evaluations:
        champion = current_champion(settings)
        now = str(champion.version) if champion is not None else None
        skipped = DeployOutcome(run_id=evaluated.run_id, done=False, details=Deployment(champion_version=now))
        skipped.reason = f"champion unchanged ({_v(now)}): nothing new to deploy"
        return _record(store, skipped)
    # Pairs that move only their own alias first: a move of the global champion changes what serves every
    # pair without one, which their gate (scored against it at evaluate) would rightly refuse as a race.
    moves_global = [settings.model_alias in target_aliases(e.provenance.pairs, settings) for e in evaluations]
    order = sorted(range(len(evaluations)), key=lambda i: moves_global[i])
    done = {i: _deploy_pair(evaluations[i], evaluated.run_id, settings) for i in order}
    deployments = [done[i] for i in range(len(evaluations))]
    outcome = DeployOutcome(
        run_id=evaluated.run_id,
        done=any(promoted for _, promoted in deployments),
        reason=_joined([(d.symbol or "", d.reason) for d, _ in deployments]),
        details=deployments[0][0],
        other_pairs=[d for d, _ in deployments[1:]],
    )
    return _record(store, outcome)


def _deploy_pair(scores: Evaluation, run_id: str, settings: Settings) -> tuple[Deployment, bool]:
    """The gate for one pair's evaluation: its deployment record, and whether a model was promoted."""
    from crypto_mlops.models.promotion import Contenders, promote
    from crypto_mlops.models.promotion_pooled import promote_scored

    versions = {scores.candidate: scores.candidate_version}
    if scores.baseline_version:
        versions[scores.best_baseline] = scores.baseline_version
    contenders = Contenders(versions=versions, provenance=scores.provenance)
    symbol = scores.provenance.symbol
    if scores.pooled_pairs:  # a pooled model bound to this pair: also tags the pooled run with this pair's decision
        result = promote_scored(scores, contenders, symbol, settings, reason_prefix=f"pipeline {run_id}: ")
    else:
        result = promote(scores, contenders, settings, reason_prefix=f"pipeline {run_id}: ")
    if result.refused:
        refused = Deployment(champion_version=result.champion_after, symbol=symbol, aliases=result.aliases)
        refused.reason = result.refused
        return refused, False
    records = [
        GateRecord(model=o.decision.candidate, version=o.version, promote=o.decision.promote, reason=o.decision.reason)
        for o in result.attempts
    ]
    promoted = result.promoted
    if promoted is not None:
        reason = f"{promoted.decision.candidate} v{promoted.version} is now champion — {promoted.decision.reason}"
    else:
        reason = f"champion unchanged ({_v(result.champion_before)}): " + "; ".join(
            f"{r.model} {_v(r.version)} {r.reason}" for r in records
        )
    deployment = Deployment(
        champion_version=result.champion_after,
        previous_champion=result.champion_before,
        decisions=records,
        symbol=symbol,
        aliases=result.aliases,
        reason=reason,
    )
    return deployment, promoted is not None
