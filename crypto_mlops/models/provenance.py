"""Where a registered version comes from; the tags every version of the promotion path carries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, model_validator

ROLE_CANDIDATE = "candidate"
ROLE_BASELINE = "best-baseline"
# Tags every registered version carries (besides the gate.* tags of its decision).
REGISTRATION_TAGS = (
    "model_type",
    "data.sha256",
    "data.source",
    "data.symbol",
    "data.pairs",
    "data.range",
    "pipeline.role",
    "pipeline.run_id",
)


class Provenance(BaseModel):
    """Where registered versions come from: the training's MLflow run and its data."""

    mlflow_run_id: str
    sha256: str
    source: str
    symbol: str
    data_start: str
    data_end: str
    pipeline_run_id: str = ""  # empty for `crypto-mlops train`
    pairs: list[str] = Field(
        default_factory=list,
        description="Every pair the model was trained on (one: a per-pair model; several: pooled). "
        "Default: `symbol`, split on commas.",
    )

    @model_validator(mode="after")
    def _pairs_from_symbol(self) -> Provenance:
        if not self.pairs:
            self.pairs = [s.strip() for s in self.symbol.split(",") if s.strip()]
        return self

    @classmethod
    def of(cls, fingerprint: Mapping[str, Any], mlflow_run_id: str, pipeline_run_id: str = "") -> Provenance:
        """From a training's data fingerprint; a pooled training lists its pairs under `pairs`."""
        pairs = fingerprint.get("pairs") or []
        return cls(
            pairs=[str(p) for p in pairs],
            mlflow_run_id=mlflow_run_id,
            sha256=str(fingerprint["sha256"]),
            source=str(fingerprint["source"]),
            symbol=str(fingerprint["symbol"]),
            data_start=str(fingerprint["start"]),
            data_end=str(fingerprint["end"]),
            pipeline_run_id=pipeline_run_id,
        )

    def tags(self, model_type: str, role: str) -> dict[str, str]:
        values = (
            model_type,
            self.sha256,
            self.source,
            self.symbol,
            ",".join(self.pairs),
            f"{self.data_start}..{self.data_end}",
            role,
            self.pipeline_run_id,
        )
        return dict(zip(REGISTRATION_TAGS, values, strict=True))
