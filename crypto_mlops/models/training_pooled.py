"""`crypto-mlops train --data A.csv --data B.csv`: one pooled model trained on several pairs, logged to MLflow.

One run: params (pairs, split, BiLSTM config, each pair's data fingerprint), per-pair metrics
`<pair>.<model>.qlike` etc. of the per-pair baselines and the pooled candidate on each pair's validation
window, the per-pair backtest tables, and the fitted pooled model (`pooled_model/`, loadable with
`crypto_mlops.models.pooled.load_pooled`). The run's tag `pooled.pairs` and the model's `pairs` attribute
name the pairs it was trained on. Registration and per-pair champions go through the promotion path:
`crypto_mlops.models.promotion_pooled.promote_pooled` binds the model to each pair and gates it there.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.market import MarketData
from crypto_mlops.models.backtest import BacktestResult, Prepared, prepare
from crypto_mlops.models.bilstm_config import BiLSTMConfig
from crypto_mlops.models.pooled import POOLABLE, PooledModel, pooled_name, run_pooled_backtest
from crypto_mlops.models.registry import get_client
from crypto_mlops.models.training import dataset_fingerprint, table_markdown
from crypto_mlops.models.zoo import BASELINES


@dataclass
class PooledTrainResult:
    run_id: str
    candidate: str  # e.g. bilstm_pooled
    model: PooledModel
    backtests: dict[str, BacktestResult]  # per pair: baselines fitted on that pair, and the pooled candidate
    fingerprints: dict[str, dict[str, Any]]
    prepared: dict[str, Prepared] = field(default_factory=dict)  # per pair: features and target (for the gate)

    @property
    def pairs(self) -> list[str]:
        return list(self.model.pairs)

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "candidate": self.candidate,
            "pairs": self.pairs,
            "fingerprints": self.fingerprints,
            "backtests": {pair: r.to_dict() for pair, r in self.backtests.items()},
        }


def train_pooled_logged(
    data: list[MarketData],
    settings: Settings | None = None,
    train_frac: float = 0.7,
    candidate: str = "bilstm",
    bilstm_config: BiLSTMConfig | None = None,
    models: list[str] | None = None,
    on_step: Callable[[str], None] | None = None,
) -> PooledTrainResult:
    """Backtest per pair (baselines alone, `candidate` pooled over all pairs) inside one MLflow run."""
    settings = settings or get_settings()
    base = candidate.removesuffix("_pooled")
    if base not in POOLABLE:
        raise KeyError(f"candidate {candidate!r} cannot be pooled; choose from {', '.join(POOLABLE)}")
    symbols = [m.symbol for m in data]
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"pooled training needs distinct pairs, got {symbols}")
    step = on_step or (lambda _s: None)
    step("preparing features")
    prepared = {m.symbol: prepare(m.frame, m.timeframe) for m in data}
    fingerprints = {m.symbol: dataset_fingerprint(m) for m in data}
    name = pooled_name(base)
    get_client(settings)
    mlflow.set_experiment(settings.mlflow_experiment)
    with mlflow.start_run(run_name=f"train-{name}-{len(data)}pairs") as run:
        mlflow.set_tags({"candidate": name, "pooled.pairs": ",".join(symbols)})
        mlflow.log_params({"train_frac": train_frac, "candidate": name, "pairs": ",".join(symbols)})
        if base == "bilstm":
            cfg = bilstm_config or BiLSTMConfig()
            mlflow.log_params({f"bilstm.{k}": v for k, v in asdict(cfg).items()})
        step(f"fitting the baselines per pair and {name} on all pairs")
        results = run_pooled_backtest(prepared, train_frac, models or list(BASELINES), [base], bilstm_config)
        step("logging to MLflow")
        for pair, result in results.items():
            tag = "".join(ch for ch in pair if ch.isalnum())
            mlflow.log_dict(fingerprints[pair], f"{tag}/dataset.json")
            mlflow.log_dict(result.to_dict(), f"{tag}/backtest.json")
            mlflow.log_text(table_markdown(result), f"{tag}/backtest.md")
            for row in result.table:
                for key in ("qlike", "qlike_vs_har", "mse", "mae", "mz_r2", "dm_t"):
                    if np.isfinite(row[key]):
                        mlflow.log_metric(f"{tag}.{row['model']}.{key}", float(row[key]))
        model: PooledModel = results[symbols[0]].models[name]  # type: ignore[assignment]
        with tempfile.TemporaryDirectory() as tmp:
            model.save(Path(tmp))
            (Path(tmp) / "pairs.json").write_text(json.dumps(model.pairs))
            mlflow.log_artifacts(tmp, "pooled_model")
    return PooledTrainResult(run.info.run_id, name, model, results, fingerprints, prepared)
