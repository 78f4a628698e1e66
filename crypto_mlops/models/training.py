"""Train, backtest, log to MLflow, register and gate: what `crypto-mlops train` and the pipeline run.

One MLflow run per training: params (split, model config, data fingerprint), per-epoch losses,
metrics of every model on the validation window, the backtest table (JSON + markdown), a plot of
forecast vs realized volatility, and the candidate logged as a pyfunc and registered. The gate
(see `registry`) then decides whether `champion` moves. If the candidate is rejected and the best
baseline beats the champion (or there is none), the best baseline is registered and promoted.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.market import MarketData
from crypto_mlops.models import metrics as m
from crypto_mlops.models.backtest import BacktestResult, Prepared, prepare, run_backtest
from crypto_mlops.models.base import VolatilityModel
from crypto_mlops.models.bilstm import BiLSTMConfig, BiLSTMModel
from crypto_mlops.models.registry import GateDecision, champion_version, decide, get_client, set_champion
from crypto_mlops.models.zoo import BASELINES, MODEL_CLASSES


@dataclass
class TrainResult:
    run_id: str
    backtest: BacktestResult
    candidate: str
    fingerprint: dict[str, Any]
    version: str | None = None
    decision: GateDecision | None = None
    baseline_version: str | None = None
    baseline_decision: GateDecision | None = None
    champion_after: str | None = None
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "candidate": self.candidate,
            "version": self.version,
            "decision": asdict(self.decision) if self.decision else None,
            "baseline_version": self.baseline_version,
            "baseline_decision": asdict(self.baseline_decision) if self.baseline_decision else None,
            "champion_after": self.champion_after,
            "fingerprint": self.fingerprint,
            "backtest": self.backtest.to_dict(),
            "notes": self.notes,
        }


def dataset_fingerprint(data: MarketData) -> dict[str, Any]:
    """Where the candles came from, their range, and a sha256 (of the file, or of the canonical frame)."""
    frame = data.frame
    path = data.meta.get("path") if data.meta else None
    if path and Path(str(path)).exists():
        sha = hashlib.sha256(Path(str(path)).read_bytes()).hexdigest()
        what = "file"
    else:
        hashed = pd.util.hash_pandas_object(frame.reset_index(), index=False).to_numpy()
        sha = hashlib.sha256(hashed.tobytes()).hexdigest()
        what = "frame"
    return {
        "source": data.source,
        "symbol": data.symbol,
        "timeframe": data.timeframe,
        "path": str(path) if path else "",
        "start": pd.Timestamp(frame.index[0]).isoformat(),
        "end": pd.Timestamp(frame.index[-1]).isoformat(),
        "rows": len(frame),
        "sha256": sha,
        "sha256_of": what,
    }


def table_markdown(result: BacktestResult) -> str:
    lines = [
        "| model | QLIKE | vs HAR | MSE (vol) | MAE (vol) | MZ R² | DM t vs HAR |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result.table:
        dm = "—" if not np.isfinite(r["dm_t"]) else f"{r['dm_t']:.2f}"
        lines.append(
            f"| {r['model']} | {r['qlike']:.4f} | {r['qlike_vs_har']:.3f} | {r['mse']:.3e} | "
            f"{r['mae']:.4f} | {r['mz_r2']:.3f} | {dm} |"
        )
    return "\n".join(lines)


def forecast_plot(result: BacktestResult, models: list[str], title: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = result.predictions.iloc[::24]  # one origin a day keeps the lines readable
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(p.index, p["realized"], color="black", lw=0.8, label="realized RV24")
    for name in dict.fromkeys(models):
        if name in p:
            ax.plot(p.index, p[name], lw=1.0, label=f"{name} forecast")
    ax.set_ylabel("RV over next 24 h")
    ax.set_title(title)
    ax.legend(loc="upper right")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _window_scores(
    result: BacktestResult, champion_model: VolatilityModel | None, prepared: Prepared
) -> tuple[pd.DataFrame, float | None, str | None]:
    """Predictions on the validation window, restricted to origins the champion can score too."""
    preds = result.predictions
    if champion_model is None:
        return preds, None, None
    try:
        mask = prepared.features.index.isin(preds.index)
        fc = champion_model.predict(prepared.features, mask).reindex(preds.index).to_numpy()
    except Exception as exc:  # champion incompatible (other timeframe, broken artifact)
        return preds, None, f"champion could not be evaluated: {type(exc).__name__}: {exc}"
    ok = np.isfinite(fc) & (fc > 0)
    if ok.sum() < 10:
        return preds, None, "champion has no forecasts on this window"
    window = preds[ok]
    return window, m.qlike(window["realized"].to_numpy(), fc[ok]), None


def _gate(
    name: str, window: pd.DataFrame, champion_qlike: float | None, champion: Any, champion_type: str | None
) -> GateDecision:
    realized = window["realized"].to_numpy()
    scores = {n: m.qlike(realized, window[n].to_numpy()) for n in window.columns if n in BASELINES or n == name}
    best = min((n for n in scores if n in BASELINES), key=scores.__getitem__)
    promote, reason = decide(
        name, scores[name], best, scores[best], champion_qlike, str(champion.version) if champion is not None else None
    )
    return GateDecision(
        promote=promote,
        reason=reason,
        candidate=name,
        candidate_qlike=scores[name],
        best_baseline=best,
        best_baseline_qlike=scores[best],
        champion_version=str(champion.version) if champion is not None else None,
        champion_model=champion_type,
        champion_qlike=champion_qlike,
        window_start=pd.Timestamp(window.index[0]).isoformat(),
        window_end=pd.Timestamp(window.index[-1]).isoformat(),
        window_origins=len(window),
    )


def _register(
    client: Any,
    settings: Settings,
    model: VolatilityModel,
    workdir: Path,
    decision: GateDecision,
    fingerprint: dict[str, Any],
) -> str:
    from crypto_mlops.models.pyfunc import log_pyfunc

    sub = workdir / model.name
    info = log_pyfunc(model, sub, registered_model_name=settings.model_name)
    version = str(info.registered_model_version)
    tags = {
        **decision.tags(),
        "model_type": model.name,
        "data.sha256": fingerprint["sha256"],
        "data.source": fingerprint["source"],
        "data.symbol": fingerprint["symbol"],
        "data.range": f"{fingerprint['start']}..{fingerprint['end']}",
    }
    for k, v in tags.items():
        client.set_model_version_tag(settings.model_name, version, k, v)
    if decision.promote:
        set_champion(client, settings.model_name, settings.model_alias, version, decision.reason)
    return version


def train_and_register(
    data: MarketData,
    settings: Settings | None = None,
    train_frac: float = 0.7,
    candidate: str = "bilstm",
    bilstm_config: BiLSTMConfig | None = None,
    models: list[str] | None = None,
    register: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> TrainResult:
    import mlflow

    from crypto_mlops.models.pyfunc import load_volatility_model

    settings = settings or get_settings()
    if candidate not in MODEL_CLASSES:
        raise KeyError(f"unknown candidate {candidate!r}; choose from {', '.join(MODEL_CLASSES)}")
    step = on_step or (lambda _s: None)
    names = list(dict.fromkeys([*(models or BASELINES), candidate]))
    fingerprint = dataset_fingerprint(data)
    step("preparing features")
    prepared = prepare(data.frame, data.timeframe)
    client = get_client(settings)
    mlflow.set_experiment(settings.mlflow_experiment)
    with mlflow.start_run(run_name=f"train-{candidate}-{data.symbol.replace('/', '')}") as run:
        mlflow.set_tags(
            {
                "candidate": candidate,
                "data.sha256": fingerprint["sha256"],
                "data.source": data.source,
                "data.symbol": data.symbol,
            }
        )
        mlflow.log_params(
            {
                "train_frac": train_frac,
                "candidate": candidate,
                "models": ",".join(names),
                **{f"data.{k}": v for k, v in fingerprint.items()},
            }
        )
        if candidate == "bilstm":
            cfg = bilstm_config or BiLSTMConfig()
            mlflow.log_params({f"bilstm.{k}": v for k, v in asdict(cfg).items()})
        result = run_backtest(prepared, train_frac, names, bilstm_config, on_model=lambda n: step(f"fitting {n}"))
        step("logging to MLflow")
        mlflow.log_dict(fingerprint, "dataset.json")
        mlflow.log_dict(result.to_dict(), "backtest.json")
        mlflow.log_text(table_markdown(result), "backtest.md")
        for row in result.table:
            for key in ("qlike", "qlike_vs_har", "mse", "mae", "mz_r2", "dm_t"):
                if np.isfinite(row[key]):
                    mlflow.log_metric(f"{row['model']}.{key}", float(row[key]))
        mlflow.log_metrics({f"fit_seconds.{k}": v for k, v in result.fit_seconds.items()})
        model = result.models[candidate]
        if isinstance(model, BiLSTMModel):
            for h in model.history:
                mlflow.log_metrics(
                    {"train_loss": h["train_loss"], "val_loss": h["val_loss"], "val_qlike": h["val_qlike"]},
                    step=int(h["epoch"]),
                )
            mlflow.log_metrics({"bilstm.correction": model.correction, "bilstm.train_seconds": model.train_seconds})
        best_base = result.best(BASELINES)["model"]
        fig = forecast_plot(
            result, [candidate, "har", best_base], f"{data.symbol} RV24: forecast vs realized (validation window)"
        )
        mlflow.log_figure(fig, "forecast_vs_realized.png")
        import matplotlib.pyplot as plt

        plt.close(fig)
        out = TrainResult(run.info.run_id, result, candidate, fingerprint)
        if not register:
            return out

        step("gating against the champion")
        current = champion_version(client, settings.model_name, settings.model_alias)
        champion_model, champion_type = None, None
        if current is not None:
            try:
                champion_model = load_volatility_model(f"models:/{settings.model_name}/{current.version}")
                champion_type = (current.tags or {}).get("model_type", champion_model.name)
            except Exception as exc:
                out.notes.append(f"champion v{current.version} could not be loaded: {type(exc).__name__}: {exc}")
        window, champion_qlike, note = _window_scores(result, champion_model, prepared)
        if note:
            out.notes.append(note)
        decision = _gate(
            candidate, window, champion_qlike, current if champion_qlike is not None else None, champion_type
        )
        with tempfile.TemporaryDirectory() as tmp:
            out.decision = decision
            out.version = _register(client, settings, model, Path(tmp), decision, fingerprint)
            mlflow.set_tag("gate.decision", decision.reason)
            if not decision.promote and decision.best_baseline != candidate:
                base_name = decision.best_baseline
                base_decision = _gate(
                    base_name, window, champion_qlike, current if champion_qlike is not None else None, champion_type
                )
                if base_decision.promote:
                    out.baseline_decision = base_decision
                    out.baseline_version = _register(
                        client, settings, result.models[base_name], Path(tmp), base_decision, fingerprint
                    )
                    mlflow.set_tag("gate.baseline_decision", base_decision.reason)
        after = champion_version(client, settings.model_name, settings.model_alias)
        out.champion_after = str(after.version) if after is not None else None
        return out
