"""Bucket names, object keys and run ids: the one place that knows the storage layout.

Every object a run writes carries its run id in the key, so concurrent or repeated runs never
overwrite each other. The only shared state is derived by *listing* (the committed watermark is
the newest `commits/*.json`, the last training the newest `training-log/*.json`).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crypto_mlops.pipeline.manifests import SymbolManifest

RAW = "raw-data"
PROCESSED = "processed-data"
REPORTS = "quality-reports"
MODELS = "models"

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def new_run_id(now: datetime | None = None) -> str:
    """A sortable, unique run id: 20261126T050000Z-1a2b3c."""
    now = now or datetime.now(UTC)
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:6]}"


def safe_run_id(run_id: str) -> str:
    """Make an external run id (e.g. Airflow's `scheduled__2026-11-26T06:00:00+00:00`) key-safe."""
    cleaned = _UNSAFE.sub("-", run_id.strip()).strip("-.")
    if not cleaned:
        raise ValueError(f"run id {run_id!r} has no usable characters")
    return cleaned[:120]


def series_prefix(source_key: str, slug: str, timeframe: str) -> str:
    return f"{source_key}/{slug}/{timeframe}"


def series_of(manifest: SymbolManifest) -> str:
    """The series prefix of one symbol of a run."""
    return series_prefix(manifest.source_key, manifest.slug, manifest.timeframe)


@dataclass(frozen=True)
class SeriesKeys:
    """Keys of the objects one run writes for one series (`series_prefix`), by bucket."""

    staged: str  # raw-data: the candles newer than the committed watermark (extract)
    commit: str  # raw-data: written by validate when they passed; makes them part of history
    processed: str  # processed-data: the new candles' feature rows
    report: str  # quality-reports: validate's report
    training_log: str  # models: which candles a training used (drives the retrain rule)

    @classmethod
    def of(cls, series: str, run_id: str) -> SeriesKeys:
        return cls(
            staged=f"{series}/runs/{run_id}.parquet",
            commit=f"{series}/commits/{run_id}.json",
            processed=f"{series}/{run_id}.parquet",
            report=f"{series}/{run_id}.json",
            training_log=f"training-log/{series}/{run_id}.json",
        )


def run_key(run_id: str, name: str) -> str:
    """models: a run-level object, e.g. a step's record `<step>.json` or the validation forecasts."""
    return f"runs/{run_id}/{name}"
