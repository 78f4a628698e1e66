"""Steps 4-6: train -> evaluate -> deploy, on the model helper's training, metrics and registry.

train     applies the retrain rule to the run's primary symbol; when it says so, trains every
          baseline and the candidate (`train_and_register(register=False)`: one MLflow run with
          params, losses, backtest table, plot, data fingerprint), registers the candidate and the
          best baseline as versions *without* moving `champion`, and saves the validation-window
          forecasts to the models bucket.
evaluate  scores candidate, best baseline, HAR and the current champion (re-forecast from its
          registered artifact) on the same validation origins (QLIKE, MSE, MAE).
deploy    the gate (`registry.decide`): the candidate must beat the best baseline and the champion;
          else the best baseline may be promoted if it beats the champion (the champion may be a
          baseline). The decision and its numbers are tags on the versions and a JSON record. If
          `champion` moved since evaluate (a concurrent run), nothing is promoted: no racing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from crypto_mlops.config import Settings, TrainingSettings, get_settings
from crypto_mlops.data.market import MarketData
from crypto_mlops.data.schema import normalize_symbol
from crypto_mlops.pipeline import history, layout, retrain
from crypto_mlops.pipeline.errors import PipelineFailed
from crypto_mlops.pipeline.ingest import series_of
from crypto_mlops.pipeline.manifests import RetrainDecision, RunContext, StepOutcome, SymbolManifest
from crypto_mlops.pipeline.store import Store, open_store


def _v(version: str | None) -> str:
    return f"v{version}" if version else "none"


def _record(store: Store, outcome: StepOutcome) -> StepOutcome:
    outcome.key = layout.step_record_key(outcome.run_id, outcome.step)
    store.put_json(layout.MODELS, outcome.key, outcome.model_dump(mode="json"))
    return outcome


def _primary(context: RunContext, settings: Settings) -> str:
    default = normalize_symbol(settings.default_symbol)
    return default if default in context.symbols else context.symbols[0]


def current_champion(settings: Settings | None = None) -> Any | None:
    """The registry's champion version (None when there is none yet)."""
    from crypto_mlops.models.registry import champion_version, get_client

    settings = settings or get_settings()
    client = get_client(settings)
    try:
        return champion_version(client, settings.model_name, settings.model_alias)
    except Exception as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc):  # no registered model yet
            return None
        raise


def _bilstm_config(training: TrainingSettings) -> Any:
    from crypto_mlops.models.bilstm import BiLSTMConfig

    config = BiLSTMConfig.tiny() if training.profile == "tiny" else BiLSTMConfig(progress=False)
    if training.max_seconds:
        config.max_train_seconds = training.max_seconds
    return config


def _register(model: Any, run_id: str, role: str, pipeline_run: str, settings: Settings) -> str:
    """Log `model` into the training's MLflow run and register it; `champion` is not touched."""
    import mlflow

    from crypto_mlops.models.pyfunc import log_pyfunc
    from crypto_mlops.models.registry import get_client

    client = get_client(settings)
    with tempfile.TemporaryDirectory() as tmp, mlflow.start_run(run_id=run_id):
        info = log_pyfunc(model, Path(tmp), registered_model_name=settings.model_name)
    version = str(info.registered_model_version)
    for key, value in {"model_type": model.name, "pipeline.role": role, "pipeline.run_id": pipeline_run}.items():
        client.set_model_version_tag(settings.model_name, version, key, value)
    return version


def train(
    context: RunContext | dict,
    manifests: list[SymbolManifest],
    store: Store | None = None,
    settings: Settings | None = None,
    on_step: Callable[[str], None] | None = None,
) -> StepOutcome:
    """Retrain when the rule says so; register candidate + best baseline (no promotion here).

    `on_step` receives progress messages ("fitting garch", "fitting bilstm", ...).
    """
    ctx = RunContext.model_validate(context)
    settings = settings or get_settings()
    store = store or open_store(settings)
    training = TrainingSettings()
    outcome = StepOutcome(run_id=ctx.run_id, step="train", done=False)
    symbol = _primary(ctx, settings)
    manifest = next(m for m in manifests if m.symbol == symbol)
    series = series_of(manifest)
    champion = current_champion(settings)
    decision: RetrainDecision = retrain.decide(store, series, symbol, ctx.timeframe, has_champion=champion is not None)
    outcome.details = {
        "symbol": symbol,
        "series": series,
        "decision": decision.model_dump(mode="json"),
        "champion_version": str(champion.version) if champion is not None else None,
        "other_symbols": [m.symbol for m in manifests if m.symbol != symbol],
    }
    if not decision.retrain:
        outcome.reason = f"no retrain ({symbol}): {decision.reason}"
        return _record(store, outcome)

    from crypto_mlops.models.training import train_and_register
    from crypto_mlops.models.zoo import BASELINES

    candles = history.load_history(store, series)
    if training.max_bars:
        candles = candles.tail(training.max_bars)
    data = MarketData(candles, symbol, ctx.timeframe, manifest.data_source or ctx.source)
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
    window_key = f"runs/{ctx.run_id}/validation-forecasts.parquet"
    store.put_parquet(layout.MODELS, window_key, backtest.predictions)
    frame_key = f"runs/{ctx.run_id}/training-candles.parquet"
    store.put_parquet(layout.MODELS, frame_key, candles)
    candidate_version = _register(backtest.models[training.candidate], result.run_id, "candidate", ctx.run_id, settings)
    baseline_version = None
    if best_baseline != training.candidate:
        baseline_version = _register(
            backtest.models[best_baseline], result.run_id, "best-baseline", ctx.run_id, settings
        )
    store.put_json(
        layout.MODELS,
        layout.training_log_key(series, ctx.run_id),
        {
            "run_id": ctx.run_id,
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
    outcome.details.update(
        {
            "mlflow_run_id": result.run_id,
            "candidate": training.candidate,
            "candidate_version": candidate_version,
            "best_baseline": best_baseline,
            "baseline_version": baseline_version,
            "window_key": window_key,
            "frame_key": frame_key,
            "timeframe": ctx.timeframe,
            "split": backtest.split,
            "backtest": backtest.table,
            "fingerprint": result.fingerprint,
        }
    )
    return _record(store, outcome)


def _scores(realized: np.ndarray, forecast: np.ndarray) -> dict[str, float]:
    from crypto_mlops.models import metrics

    return {
        "qlike": float(metrics.qlike(realized, forecast)),
        "mse": float(metrics.mse(realized, forecast)),
        "mae": float(metrics.mae(realized, forecast)),
    }


def evaluate(trained: StepOutcome | dict, store: Store | None = None, settings: Settings | None = None) -> StepOutcome:
    """Candidate vs best baseline vs HAR vs the current champion on the same validation origins."""
    trained = StepOutcome.model_validate(trained)
    settings = settings or get_settings()
    store = store or open_store(settings)
    outcome = StepOutcome(run_id=trained.run_id, step="evaluate", done=False)
    if not trained.done:
        outcome.reason = "skipped: nothing was trained"
        return _record(store, outcome)
    from crypto_mlops.models.backtest import prepare
    from crypto_mlops.models.pyfunc import load_volatility_model

    d = trained.details
    window = store.get_parquet(layout.MODELS, d["window_key"])
    forecasts = {
        name: window[name].to_numpy(float) for name in {d["candidate"], d["best_baseline"], "har"} if name in window
    }
    champion = current_champion(settings)
    notes: list[str] = []
    champion_name = None
    if champion is not None:
        champion_name = f"champion v{champion.version}"
        try:
            model = load_volatility_model(f"models:/{settings.model_name}/{champion.version}")
            prepared = prepare(store.get_parquet(layout.MODELS, d["frame_key"]), d["timeframe"])
            mask = prepared.features.index.isin(window.index)
            predicted = model.predict(prepared.features, mask).reindex(window.index)
            forecasts[champion_name] = predicted.to_numpy(float)
        except Exception as exc:  # an incompatible or broken champion must not block a better model
            notes.append(f"champion v{champion.version} could not be evaluated: {type(exc).__name__}: {exc}")
            champion_name = None
    realized = window["realized"].to_numpy(float)
    common = np.isfinite(realized)
    for values in forecasts.values():
        common &= np.isfinite(values) & (values > 0)
    if common.sum() < 10:
        raise PipelineFailed("evaluate", f"only {int(common.sum())} validation origins where every model forecasts")
    table = {name: _scores(realized[common], values[common]) for name, values in forecasts.items()}
    index = window.index[common]
    outcome.done = True
    outcome.details = {
        **{k: d[k] for k in ("candidate", "candidate_version", "best_baseline", "baseline_version")},
        "champion_version": str(champion.version) if champion is not None else None,
        "champion_key": champion_name,
        "table": table,
        "notes": notes,
        "window_start": index[0].isoformat(),
        "window_end": index[-1].isoformat(),
        "window_origins": int(common.sum()),
    }
    parts = [f"{name} {scores['qlike']:.4f}" for name, scores in sorted(table.items(), key=lambda i: i[1]["qlike"])]
    outcome.reason = f"QLIKE on {int(common.sum())} common validation origins: " + ", ".join(parts)
    return _record(store, outcome)


def deploy(evaluated: StepOutcome | dict, store: Store | None = None, settings: Settings | None = None) -> StepOutcome:
    """Apply the gate; move `champion` (candidate first, else the best baseline) or record why not."""
    evaluated = StepOutcome.model_validate(evaluated)
    settings = settings or get_settings()
    store = store or open_store(settings)
    outcome = StepOutcome(run_id=evaluated.run_id, step="deploy", done=False)
    champion = current_champion(settings)
    champion_now = str(champion.version) if champion is not None else None
    outcome.details = {"champion_version": champion_now}
    if not evaluated.done:
        outcome.reason = f"champion unchanged ({_v(champion_now)}): nothing new to deploy"
        return _record(store, outcome)
    from crypto_mlops.models.registry import GateDecision, decide, get_client, set_champion

    d = evaluated.details
    if d["champion_version"] != champion_now:
        outcome.reason = (
            f"not promoted: champion moved from {_v(d['champion_version'])} to {_v(champion_now)} since "
            "evaluation (another run); the next run re-evaluates"
        )
        return _record(store, outcome)
    table, client = d["table"], get_client(settings)
    champion_qlike = table[d["champion_key"]]["qlike"] if d["champion_key"] else None
    best, best_qlike = d["best_baseline"], table[d["best_baseline"]]["qlike"]
    attempts = [(d["candidate"], d["candidate_version"])]
    if d["baseline_version"]:
        attempts.append((best, d["baseline_version"]))
    decisions = []
    for name, version in attempts:
        promote, reason = decide(name, table[name]["qlike"], best, best_qlike, champion_qlike, champion_now)
        gate = GateDecision(
            promote=promote,
            reason=reason,
            candidate=name,
            candidate_qlike=table[name]["qlike"],
            best_baseline=best,
            best_baseline_qlike=best_qlike,
            champion_version=champion_now,
            champion_model=d["champion_key"],
            champion_qlike=champion_qlike,
            window_start=d["window_start"],
            window_end=d["window_end"],
            window_origins=d["window_origins"],
        )
        for key, value in gate.tags().items():
            client.set_model_version_tag(settings.model_name, version, key, value)
        decisions.append({"model": name, "version": version, "promote": promote, "reason": reason})
        if promote:
            set_champion(
                client, settings.model_name, settings.model_alias, version, f"pipeline {outcome.run_id}: {reason}"
            )
            outcome.done = True
            outcome.reason = f"{name} v{version} is now champion — {reason}"
            outcome.details["champion_version"] = version
            break
    if not outcome.done:
        outcome.reason = f"champion unchanged ({_v(champion_now)}): " + "; ".join(
            f"{x['model']} v{x['version']} {x['reason']}" for x in decisions
        )
    outcome.details.update({"previous_champion": champion_now, "decisions": decisions})
    return _record(store, outcome)
