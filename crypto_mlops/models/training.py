"""Train, backtest, log to MLflow, then register and gate: what `crypto-mlops train` runs.

One MLflow run per training: params (split, model config, data fingerprint), per-epoch losses,
metrics of every model on the validation window, the backtest table (JSON + markdown) and a plot of
forecast vs realized volatility. With `register=True` the candidate then goes through the one
promotion path (`crypto_mlops.models.promotion`): scored with the champion and the baselines on the
validation window, registered, gated; if it is rejected and the best baseline beats the champion (or
there is none), that baseline is registered and promoted. The pipeline trains with `register=False`
and runs the same promotion path in its evaluate and deploy steps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.market import MarketData
from crypto_mlops.models.backtest import BacktestResult, Prepared, prepare, run_backtest
from crypto_mlops.models.baselines import BASELINES
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.catalog import known_names
from crypto_mlops.models.gate import GateDecision, score_window
from crypto_mlops.models.promotion import Contenders, Provenance, champion_forecast, promote
from crypto_mlops.models.registry import get_client


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
            "decision": self.decision.model_dump() if self.decision else None,
            "baseline_version": self.baseline_version,
            "baseline_decision": self.baseline_decision.model_dump() if self.baseline_decision else None,
            "champion_after": self.champion_after,
            "fingerprint": self.fingerprint,
            "backtest": self.backtest.to_dict(),
            "notes": self.notes,
        }

    @property
    def provenance(self) -> Provenance:
        return Provenance.of(self.fingerprint, self.run_id)


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


def forecast_plot(result: BacktestResult, models: list[str], title: str) -> go.Figure:
    """Realized vs forecast RV24 on the validation window (an interactive page among the run's artifacts)."""
    p = result.predictions.iloc[::24]  # one origin a day keeps the lines readable
    fig = go.Figure()
    fig.add_scatter(x=p.index, y=p["realized"], name="realized RV24", line={"color": "black", "width": 1})
    for name in dict.fromkeys(models):
        if name in p:
            fig.add_scatter(x=p.index, y=p[name], name=f"{name} forecast", line={"width": 1.2})
    fig.update_layout(title=title, yaxis_title="RV over next 24 h", template="plotly_white", height=420)
    return fig


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
    settings = settings or get_settings()
    if candidate not in known_names():
        raise KeyError(f"unknown candidate {candidate!r}; choose from {', '.join(known_names())}")
    step = on_step or (lambda _s: None)
    names = list(dict.fromkeys([*(models or BASELINES), candidate]))
    fingerprint = dataset_fingerprint(data)
    step("preparing features")
    prepared = prepare(data.frame, data.timeframe)
    get_client(settings)  # points mlflow at the configured tracking server
    mlflow.set_experiment(settings.mlflow_experiment)
    with mlflow.start_run(run_name=f"train-{candidate}-{data.symbol.replace('/', '')}") as run:
        result = _train_logged(data, fingerprint, prepared, train_frac, candidate, names, bilstm_config, step)
    out = TrainResult(run.info.run_id, result, candidate, fingerprint)
    if not register:
        return out

    step("gating against the champion")
    baselines = [n for n in result.predictions.columns if n in BASELINES]
    champion = champion_forecast(result.predictions.index, prepared.features, settings, out.provenance.pairs)
    scores = score_window(result.predictions, candidate, baselines, champion)
    out.notes.extend(scores.notes)
    promotion = promote(scores, Contenders(models=result.models, provenance=out.provenance), settings)
    if promotion.candidate is not None:
        out.decision, out.version = promotion.candidate.decision, promotion.candidate.version
    if promotion.baseline is not None and promotion.baseline.version is not None:
        out.baseline_decision, out.baseline_version = promotion.baseline.decision, promotion.baseline.version
    out.champion_after = promotion.champion_after
    return out


def _train_logged(
    data: MarketData,
    fingerprint: dict[str, Any],
    prepared: Prepared,
    train_frac: float,
    candidate: str,
    names: list[str],
    bilstm_config: BiLSTMConfig | None,
    step: Callable[[str], None],
) -> BacktestResult:
    """Backtest every model inside the active MLflow run and log params, metrics and artifacts."""
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
    epochs, totals = result.models[candidate].fit_log()
    for row in epochs:
        mlflow.log_metrics({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))
    if totals:
        mlflow.log_metrics(totals)
    best_base = result.best(BASELINES)["model"]
    fig = forecast_plot(
        result, [candidate, "har", best_base], f"{data.symbol} RV24: forecast vs realized (validation window)"
    )
    mlflow.log_figure(fig, "forecast_vs_realized.html")
    return result
