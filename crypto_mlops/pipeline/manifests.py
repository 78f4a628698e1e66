"""Small JSON manifests passed between steps (XCom-friendly: `.model_dump(mode="json")`).

A step never passes frames along: it writes them to a bucket and hands on the key.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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
    """Result of a run-level step (train, evaluate, deploy, notify)."""

    run_id: str
    step: str
    done: bool = Field(description="The step did its work (False: skipped, reason says why).")
    reason: str = ""
    details: dict[str, Any] = Field(default_factory=dict)
    key: str | None = Field(None, description="models-bucket key of this step's record.")


class RunSummary(BaseModel):
    """What `crypto-mlops pipeline run` prints and returns."""

    run_id: str
    status: str = Field(description="succeeded | failed")
    failed_step: str | None = None
    reason: str = ""
    symbols: list[SymbolManifest] = Field(default_factory=list)
    train: StepOutcome | None = None
    evaluate: StepOutcome | None = None
    deploy: StepOutcome | None = None
    notify: StepOutcome | None = None
    seconds: float = 0.0
