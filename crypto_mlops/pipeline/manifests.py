"""Small typed JSON manifests passed between steps (XCom-friendly: `.model_dump(mode="json")`).

A step never passes frames along: it writes them to a bucket and hands on the key. Each run-level
step records its outcome as `models/runs/<run>/<step>.json` (the same JSON).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from crypto_mlops.models.gate import WindowScores
from crypto_mlops.models.provenance import Provenance


class RunContext(BaseModel):
    """What one pipeline run works on; created once, read by every step."""

    run_id: str = Field(description="Key of every object this run writes (never shared by two runs).")
    source: str = Field(description="ccxt | csv | synthetic")
    source_key: str = Field(description="Folder of the source in the buckets: exchange id, 'csv' or 'synthetic'.")
    timeframe: str
    symbols: list[str]
    csv_paths: dict[str, str] = Field(default_factory=dict, description="Symbol -> CSV file (source csv).")
    started_at: str


class SymbolManifest(BaseModel):
    """One symbol's way through extract -> process -> validate; each step fills its part."""

    run_id: str
    symbol: str
    slug: str
    source: str
    source_key: str
    timeframe: str
    data_source: str = Field("", description="What the loader reported (exchange id, csv, synthetic).")
    watermark_before: str | None = Field(None, description="Last committed candle before this run.")
    staged_key: str | None = Field(None, description="raw-data key of this run's new candles.")
    new_rows: int = 0
    first_new: str | None = None
    last_new: str | None = None
    notes: list[str] = Field(default_factory=list)
    # process
    processed_key: str | None = None
    history_rows: int = 0
    filled_bars: int = 0
    # validate
    report_key: str | None = None
    passed: bool | None = None
    problems: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    committed: bool = False


class RetrainDecision(BaseModel):
    """The retrain rule's verdict for one symbol, with the numbers behind it."""

    symbol: str
    retrain: bool
    reason: str
    new_bars_since_training: int = 0
    new_hours_since_training: float = 0.0
    last_trained_end: str | None = None
    drift_ratio: float | None = None
    has_champion: bool = True


class StepOutcome(BaseModel):
    """What every run-level step (train, evaluate, deploy, notify) returns and records."""

    run_id: str
    step: str
    done: bool = Field(description="The step did its work (False: skipped, reason says why).")
    reason: str = ""
    key: str | None = Field(None, description="models-bucket key of this step's record.")


class TrainedModels(BaseModel):
    """What a training registered and saved for evaluate (no promotion yet)."""

    provenance: Provenance = Field(description="The training's MLflow run and data fingerprint.")
    candidate: str
    candidate_version: str
    best_baseline: str
    baseline_version: str | None = Field(None, description="None when the candidate is the best baseline.")
    window_key: str = Field(description="models-bucket key of the validation forecasts (realized + one per model).")
    frame_key: str = Field(description="models-bucket key of the candles trained on.")
    timeframe: str
    backtest: dict[str, Any] = Field(description="The backtest's split, metric table and fit seconds.")
    pooled_pairs: list[str] = Field(
        default_factory=list,
        description="A pooled training: every pair of the model `candidate` is bound to (empty: a per-pair model).",
    )


class TrainDetails(BaseModel):
    symbol: str
    series: str
    decision: RetrainDecision
    champion_version: str | None = None
    other_symbols: list[str] = Field(default_factory=list)
    trained: TrainedModels | None = None


class PooledTraining(BaseModel):
    """A pooled train step (PIPELINE_TRAIN_POOLED): one model fitted on every pair, then bound to each."""

    mlflow_run_id: str = Field(description="The one MLflow run of the pooled fit (tag `pooled.pairs`).")
    candidate: str = Field(description="The pooled model's name, e.g. har_xsq_pooled.")
    pairs: list[str]


class TrainOutcome(StepOutcome):
    step: Literal["train"] = "train"
    pooled: PooledTraining | None = Field(None, description="Set when one pooled model was trained for all pairs.")
    details: TrainDetails | None = Field(None, description="The first pair's (the default pair when listed).")
    other_pairs: list[TrainDetails] = Field(default_factory=list, description="Every other pair, in run order.")

    @property
    def pairs(self) -> list[TrainDetails]:
        return ([self.details] if self.details is not None else []) + self.other_pairs


class Evaluation(WindowScores):
    """The gate's window scores (candidate, best baseline, HAR, champion) and what deploy needs."""

    candidate_version: str
    baseline_version: str | None = None
    provenance: Provenance
    pooled_pairs: list[str] = Field(default_factory=list, description="As `TrainedModels.pooled_pairs`.")


class EvaluateOutcome(StepOutcome):
    step: Literal["evaluate"] = "evaluate"
    details: Evaluation | None = Field(None, description="The first trained pair's window scores.")
    other_pairs: list[Evaluation] = Field(default_factory=list, description="Every other trained pair's.")

    @property
    def pairs(self) -> list[Evaluation]:
        return ([self.details] if self.details is not None else []) + self.other_pairs


class GateRecord(BaseModel):
    model: str
    version: str | None
    promote: bool
    reason: str


class Deployment(BaseModel):
    champion_version: str | None = Field(description="The champion after this step.")
    previous_champion: str | None = None
    decisions: list[GateRecord] = Field(default_factory=list)
    symbol: str | None = Field(None, description="The pair gated on its own validation window.")
    aliases: list[str] = Field(default_factory=list, description="The aliases a promotion moves for it.")
    reason: str = ""


class DeployOutcome(StepOutcome):
    step: Literal["deploy"] = "deploy"
    details: Deployment = Field(description="The first evaluated pair's deployment.")
    other_pairs: list[Deployment] = Field(default_factory=list, description="Every other pair's.")

    @property
    def pairs(self) -> list[Deployment]:
        return [self.details, *self.other_pairs]


class Notification(BaseModel):
    status_code: int
    url: str
    response: Any = None


class NotifyOutcome(StepOutcome):
    step: Literal["notify"] = "notify"
    details: Notification | None = None


class RunSummary(BaseModel):
    """What `crypto-mlops pipeline run` prints and returns."""

    run_id: str
    status: str = Field(description="succeeded | failed")
    failed_step: str | None = None
    reason: str = ""
    symbols: list[SymbolManifest] = Field(default_factory=list)
    train: TrainOutcome | None = None
    evaluate: EvaluateOutcome | None = None
    deploy: DeployOutcome | None = None
    notify: NotifyOutcome | None = None
    seconds: float = 0.0
