"""Steps 4-6: train -> evaluate -> deploy, on the models package's training and promotion path.

Typed in and out (`pipeline.manifests`); `pipeline.tasks` converts to and from dicts for Airflow.

train     applies the retrain rule to the run's primary symbol; when it says so, trains every
          baseline and the candidate (`train_and_register(register=False)`: one MLflow run with
          params, losses, backtest table, plot, data fingerprint), registers the candidate and the
          best baseline as versions *without* moving `champion`, and saves the validation-window
          forecasts and the candles to the models bucket.
evaluate  step 1 of the promotion path (`promotion.champion_forecast` + `gate.score_window`):
          candidate, best baseline, HAR and the current champion (re-forecast from its registered
          artifact) scored on the same validation origins (QLIKE, MSE, MAE).
deploy    step 2 (`promotion.promote`): the candidate must beat the best baseline and the champion;
          else the best baseline may be promoted if it beats the champion (the champion may be a
          baseline). The decisions are `gate.*` tags on the versions and a JSON record. If `champion`
          moved since evaluate (a concurrent run), nothing is promoted: no racing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from crypto_mlops.config import Settings, TrainingSettings, get_settings
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.schema import normalize_symbol
from crypto_mlops.models.provenance import ROLE_BASELINE, ROLE_CANDIDATE, Provenance
from crypto_mlops.models.registry import current_champion
from crypto_mlops.pipeline import history, layout, retrain
from crypto_mlops.pipeline.errors import PipelineFailed
from crypto_mlops.pipeline.ingest import series_of
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


def train(
    context: RunContext,
    manifests: list[SymbolManifest],
    store: Store | None = None,
    settings: Settings | None = None,
    on_step: Callable[[str], None] | None = None,
) -> TrainOutcome:
    """Retrain when the rule says so; register candidate + best baseline (no promotion here).

    `on_step` receives progress messages ("fitting garch", "fitting bilstm", ...).
    """
    store, settings = _resolve(store, settings)
    training = TrainingSettings()
    outcome = TrainOutcome(run_id=context.run_id, done=False)
    symbol = _primary(context, settings)
    manifest = next(m for m in manifests if m.symbol == symbol)
    series = series_of(manifest)
    champion = current_champion(settings)
    decision = retrain.decide(store, series, symbol, context.timeframe, has_champion=champion is not None)
    outcome.details = TrainDetails(
        symbol=symbol,
        series=series,
        decision=decision,
        champion_version=str(champion.version) if champion is not None else None,
        other_symbols=[m.symbol for m in manifests if m.symbol != symbol],
    )
    if not decision.retrain:
        outcome.reason = f"no retrain ({symbol}): {decision.reason}"
        return _record(store, outcome)

    from crypto_mlops.models.promotion import register_version
    from crypto_mlops.models.training import train_and_register
    from crypto_mlops.models.zoo import BASELINES

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
    window_key = layout.run_key(context.run_id, "validation-forecasts.parquet")
    store.put_parquet(layout.MODELS, window_key, backtest.predictions)
    frame_key = layout.run_key(context.run_id, "training-candles.parquet")
    store.put_parquet(layout.MODELS, frame_key, candles)
    provenance = Provenance.of(result.fingerprint, result.run_id, pipeline_run_id=context.run_id)
    candidate_version = register_version(backtest.models[training.candidate], provenance, ROLE_CANDIDATE, settings)
    baseline_version = None
    if best_baseline != training.candidate:
        baseline_version = register_version(backtest.models[best_baseline], provenance, ROLE_BASELINE, settings)
    store.put_json(
        layout.MODELS,
        layout.SeriesKeys.of(series, context.run_id).training_log,
        {
            "run_id": context.run_id,
            "symbol": symbol,
            "data_start": candles.index[0].isoformat(),
            "data_end": candles.index[-1].isoformat(),
            "rows": len(candles),
            "mlflow_run_id": result.run_id,
            "candidate_version": candidate_version,
            "trained_at": datetime.now(UTC).isoformat(),
        },
    )
    outcome.done = True
    outcome.reason = (
        f"retrained on {len(candles):,} {symbol} candles because {decision.reason}; "
        f"registered {training.candidate} v{candidate_version}"
        + (f" and best baseline {best_baseline} v{baseline_version}" if baseline_version else "")
    )
    outcome.details.trained = TrainedModels(
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
    return _record(store, outcome)


def evaluate(trained: TrainOutcome, store: Store | None = None, settings: Settings | None = None) -> EvaluateOutcome:
    """Candidate vs best baseline vs HAR vs the current champion on the same validation origins."""
    store, settings = _resolve(store, settings)
    outcome = EvaluateOutcome(run_id=trained.run_id, done=False)
    models = trained.details.trained if trained.done and trained.details else None
    if models is None:
        outcome.reason = "skipped: nothing was trained"
        return _record(store, outcome)
    from crypto_mlops.models.backtest import prepare
    from crypto_mlops.models.gate import score_window
    from crypto_mlops.models.promotion import champion_forecast

    window = store.get_parquet(layout.MODELS, models.window_key)
    features = prepare(store.get_parquet(layout.MODELS, models.frame_key), models.timeframe).features
    champion = champion_forecast(window.index, features, settings)
    report = ["har"] if "har" in window else []
    try:
        scores = score_window(window, models.candidate, [models.best_baseline], champion, report)
    except ValueError as exc:
        raise PipelineFailed("evaluate", str(exc)) from exc
    outcome.done = True
    outcome.details = Evaluation(
        **scores.model_dump(),
        candidate_version=models.candidate_version,
        baseline_version=models.baseline_version,
        provenance=models.provenance,
    )
    ranked = sorted(scores.table.items(), key=lambda item: item[1].qlike)
    outcome.reason = f"QLIKE on {scores.window_origins} common validation origins: " + ", ".join(
        f"{name} {s.qlike:.4f}" for name, s in ranked
    )
    return _record(store, outcome)


def deploy(evaluated: EvaluateOutcome, store: Store | None = None, settings: Settings | None = None) -> DeployOutcome:
    """Apply the gate; move `champion` (candidate first, else the best baseline) or record why not."""
    store, settings = _resolve(store, settings)
    scores = evaluated.details if evaluated.done else None
    if scores is None:
        champion = current_champion(settings)
        now = str(champion.version) if champion is not None else None
        skipped = DeployOutcome(run_id=evaluated.run_id, done=False, details=Deployment(champion_version=now))
        skipped.reason = f"champion unchanged ({_v(now)}): nothing new to deploy"
        return _record(store, skipped)
    from crypto_mlops.models.promotion import Contenders, promote

    versions = {scores.candidate: scores.candidate_version}
    if scores.baseline_version:
        versions[scores.best_baseline] = scores.baseline_version
    contenders = Contenders(versions=versions, provenance=scores.provenance)
    result = promote(scores, contenders, settings, reason_prefix=f"pipeline {evaluated.run_id}: ")
    if result.refused:
        details = Deployment(champion_version=result.champion_after)
        return _record(
            store, DeployOutcome(run_id=evaluated.run_id, done=False, reason=result.refused, details=details)
        )
    records = [
        GateRecord(model=o.decision.candidate, version=o.version, promote=o.decision.promote, reason=o.decision.reason)
        for o in result.attempts
    ]
    details = Deployment(
        champion_version=result.champion_after, previous_champion=result.champion_before, decisions=records
    )
    promoted = result.promoted
    if promoted is not None:
        reason = f"{promoted.decision.candidate} v{promoted.version} is now champion — {promoted.decision.reason}"
    else:
        reason = f"champion unchanged ({_v(result.champion_before)}): " + "; ".join(
            f"{r.model} {_v(r.version)} {r.reason}" for r in records
        )
    outcome = DeployOutcome(run_id=evaluated.run_id, done=promoted is not None, reason=reason, details=details)
    return _record(store, outcome)
