"""Bucket names, object keys and run ids: the one place that knows the storage layout.

Every object a run writes carries its run id in the key, so concurrent or repeated runs never
overwrite each other. The only shared state is derived by *listing* (the committed watermark is
the newest `commits/*.json`, the last training the newest `training-log/*.json`).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

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


def staged_key(series: str, run_id: str) -> str:
    """raw-data: the candles this run fetched that were newer than the committed watermark."""
    return f"{series}/runs/{run_id}.parquet"


def commit_key(series: str, run_id: str) -> str:
    """raw-data: written by validate when the run's candles passed; makes them part of history."""
    return f"{series}/commits/{run_id}.json"


def processed_key(series: str, run_id: str) -> str:
    return f"{series}/{run_id}.parquet"


def report_key(series: str, run_id: str) -> str:
    return f"{series}/{run_id}.json"


def training_log_key(series: str, run_id: str) -> str:
    """models: which candles a training used (drives the retrain rule)."""
    return f"training-log/{series}/{run_id}.json"


def step_record_key(run_id: str, step: str) -> str:
    """models: the record of a run-level step (train, evaluate, deploy, notify)."""
    return f"runs/{run_id}/{step}.json"
