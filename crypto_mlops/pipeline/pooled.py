"""The pooled train step (PIPELINE_TRAIN_POOLED=true, 2+ pairs): one model over every pair, bound to each.

The retrain rule (`pipeline.retrain`) is applied to each pair, and the run as a whole retrains when any
pair asks for it: one pooled fit uses every pair's candles, so all of them are trained together, and
each pair's training log is written (the next run's rule then measures from this training).

One MLflow run (`training_pooled.train_pooled_logged`, tag `pooled.pairs`) fits the baselines per pair
and the candidate once on all pairs. For each pair the model bound to it and calibrated on its window
(`promotion_pooled.bound_model`) is registered as a candidate version with the pair's provenance, no
alias moved; its validation forecasts and candles go to the models bucket as for a per-pair training.
As in a per-pair run, each pair's best baseline is registered too, so a pair where the pooled model loses
may still fall back on its best baseline (the same gate as `crypto-mlops train --promote`, which registers
that baseline only when it wins). Evaluate then scores each pair as for a per-pair run
(`promotion.champion_forecast`, `gate.score_window`); deploy sees `Evaluation.pooled_pairs` and runs
`promotion_pooled.promote_scored`: each pair is gated against its own champion, moves its own
`champion-<pair>` (and `champion` for the default pair), and its decision is tagged on the pooled run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from crypto_mlops.config import Settings, TrainingSettings
from crypto_mlops.data.errors import InvalidInput
from crypto_mlops.data.market import MarketData
from crypto_mlops.pipeline import history, retrain
from crypto_mlops.pipeline.errors import PipelineFailed
from crypto_mlops.pipeline.manifests import PooledTraining, RunContext, SymbolManifest, TrainDetails, TrainedModels
from crypto_mlops.pipeline.store import Store

if TYPE_CHECKING:
    from crypto_mlops.models.bilstm_config import BiLSTMConfig


def is_pooled(symbols: Sequence[str], training: TrainingSettings | None = None) -> bool:
    """Whether a run over `symbols` trains one pooled model (the setting is on and there are 2+ pairs)."""
    return (training or TrainingSettings()).pooled and len(symbols) >= 2


def check(symbols: Sequence[str], training: TrainingSettings | None = None) -> None:
    """InvalidInput when a pooled run's candidate cannot be pooled (the plan step calls it, before any extract)."""
    training = training or TrainingSettings()
    if not is_pooled(symbols, training):
        return
    from crypto_mlops.models.pooled import POOLABLE

    if training.candidate.removesuffix("_pooled") not in POOLABLE:
        raise InvalidInput(
            f"PIPELINE_TRAIN_POOLED=true trains one model over {', '.join(symbols)}, but candidate "
            f"{training.candidate!r} cannot be pooled: set PIPELINE_TRAIN_CANDIDATE to one of "
            f"{', '.join(POOLABLE)}, or PIPELINE_TRAIN_POOLED=false for one model per pair"
        )


def _joined(parts: Sequence[tuple[str, str]]) -> str:
    return " | ".join(f"{symbol}: {reason}" for symbol, reason in parts)


def train(
    context: RunContext,
    manifests: list[SymbolManifest],
    store: Store,
    settings: Settings,
    training: TrainingSettings,
    bilstm_config: BiLSTMConfig | None = None,
    on_step: Callable[[str], None] | None = None,
) -> tuple[list[TrainDetails], str, PooledTraining | None]:
    """Each pair's details (in `manifests`' order), the step's reason, and the pooled run (None: no retrain)."""
    names = [m.symbol for m in manifests]
    try:
        check(names, training)
    except InvalidInput as exc:
        raise PipelineFailed("train", str(exc)) from exc
    details = [
        retrain.assess(store, m, context.timeframe, [n for n in names if n != m.symbol], settings) for m in manifests
    ]
    asked = [(d.symbol, d.decision.reason) for d in details if d.decision.retrain]
    if not asked:
        return (
            details,
            f"no retrain (pooled over {', '.join(names)}): "
            + _joined([(d.symbol, d.decision.reason) for d in details]),
            None,
        )
    return _fit(context, manifests, details, store, settings, training, bilstm_config, on_step, asked)


def _fit(
    context: RunContext,
    manifests: list[SymbolManifest],
    details: list[TrainDetails],
    store: Store,
    settings: Settings,
    training: TrainingSettings,
    bilstm_config: BiLSTMConfig | None,
    on_step: Callable[[str], None] | None,
    asked: list[tuple[str, str]],
) -> tuple[list[TrainDetails], str, PooledTraining]:
    from crypto_mlops.models.baselines import BASELINES
    from crypto_mlops.models.promotion import register_version
    from crypto_mlops.models.promotion_pooled import bound_model
    from crypto_mlops.models.provenance import ROLE_BASELINE, ROLE_CANDIDATE, Provenance
    from crypto_mlops.models.training_pooled import train_pooled_logged

    frames = {}
    for pair in details:
        candles = history.load_history(store, pair.series)
        frames[pair.symbol] = candles.tail(training.max_bars) if training.max_bars else candles
    data = [
        MarketData(frames[m.symbol], m.symbol, context.timeframe, m.data_source or context.source) for m in manifests
    ]
    try:
        result = train_pooled_logged(
            data, settings, training.train_frac, training.candidate, bilstm_config, on_step=on_step
        )
    except ValueError as exc:  # too few candles for the warm-up and split
        sizes = ", ".join(f"{len(frame):,} {pair}" for pair, frame in frames.items())
        raise PipelineFailed("train", f"cannot train a pooled model on {sizes} candles: {exc}") from exc
    registered = []
    for manifest, pair in zip(manifests, details, strict=True):
        backtest, candles = result.backtests[pair.symbol], frames[pair.symbol]
        bound = bound_model(result, pair.symbol)
        window_key, frame_key = history.store_training_inputs(
            store, context.run_id, manifest.slug, backtest.predictions, candles
        )
        provenance = Provenance.of(result.fingerprints[pair.symbol], result.run_id, pipeline_run_id=context.run_id)
        version = register_version(bound, provenance, ROLE_CANDIDATE, settings)
        best_baseline = backtest.best([n for n in BASELINES if n in backtest.models])["model"]
        baseline = register_version(backtest.models[best_baseline], provenance, ROLE_BASELINE, settings)
        history.record_training(store, pair.series, context.run_id, pair.symbol, candles, result.run_id, version)
        pair.trained = TrainedModels(
            provenance=provenance,
            candidate=bound.name,
            candidate_version=version,
            best_baseline=best_baseline,
            baseline_version=baseline,
            window_key=window_key,
            frame_key=frame_key,
            timeframe=context.timeframe,
            backtest=backtest.to_dict(),
            pooled_pairs=result.pairs,
        )
        registered.append(f"{pair.symbol} v{version} (best baseline {best_baseline} v{baseline})")
    rows = ", ".join(f"{len(frame):,} {pair}" for pair, frame in frames.items())
    reason = (
        f"retrained one {result.candidate} on {rows} candles because {_joined(asked)}; "
        f"registered it bound to each pair: {', '.join(registered)}"
    )
    pooled = PooledTraining(mlflow_run_id=result.run_id, candidate=result.candidate, pairs=result.pairs)
    return details, reason, pooled
