"""State derived from the buckets: committed candles, the watermark, the last training.

Nothing here is ever overwritten; state is the union of per-run objects, so two runs that
commit the same candles only produce duplicates that `load_history` drops.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from crypto_mlops.data.schema import canonical_frame
from crypto_mlops.pipeline import layout
from crypto_mlops.pipeline.store import Store


def _json_objects(store: Store, bucket: str, prefix: str) -> list[dict[str, Any]]:
    keys = sorted(key for key in store.list(bucket, prefix) if key.endswith(".json"))
    return [store.get_json(bucket, key) for key in keys]


def commits(store: Store, series: str) -> list[dict[str, Any]]:
    """Committed increments of a series, oldest first."""
    entries = _json_objects(store, layout.RAW, f"{series}/commits/")
    return sorted(entries, key=lambda entry: (entry["last"], entry["run_id"]))


def watermark(store: Store, series: str) -> pd.Timestamp | None:
    """Open time of the newest committed candle (None: nothing stored yet)."""
    entries = commits(store, series)
    return pd.Timestamp(entries[-1]["last"]) if entries else None


def load_history(store: Store, series: str, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every committed candle of a series (plus `extra`, e.g. this run's staged ones), canonical."""
    parts = [store.get_parquet(layout.RAW, entry["key"]) for entry in commits(store, series)]
    if extra is not None and not extra.empty:
        parts.append(extra)
    if not parts:
        return pd.DataFrame(
            columns=["open", "high", "low", "close", "volume"],
            index=pd.DatetimeIndex([], tz="UTC", name="timestamp"),
        )
    return canonical_frame(pd.concat(parts))


def last_training(store: Store, series: str) -> dict[str, Any] | None:
    """The newest training-log entry of a series (what data the last training used)."""
    entries = _json_objects(store, layout.MODELS, f"training-log/{series}/")
    return max(entries, key=lambda entry: (entry["data_end"], entry["run_id"])) if entries else None


def record_training(
    store: Store, series: str, run_id: str, symbol: str, candles: pd.DataFrame, mlflow_run_id: str, version: str
) -> None:
    """Write the training-log entry of a series: which candles this run trained on (read by `last_training`)."""
    store.put_json(
        layout.MODELS,
        layout.SeriesKeys.of(series, run_id).training_log,
        {
            "run_id": run_id,
            "symbol": symbol,
            "data_start": candles.index[0].isoformat(),
            "data_end": candles.index[-1].isoformat(),
            "rows": len(candles),
            "mlflow_run_id": mlflow_run_id,
            "candidate_version": version,
            "trained_at": datetime.now(UTC).isoformat(),
        },
    )


def store_training_inputs(
    store: Store, run_id: str, slug: str, predictions: pd.DataFrame, candles: pd.DataFrame
) -> tuple[str, str]:
    """The validation forecasts and the training candles of one pair's training (evaluate reads them back):
    their keys in the models bucket."""
    window_key = layout.run_key(run_id, f"{slug}/validation-forecasts.parquet")
    store.put_parquet(layout.MODELS, window_key, predictions)
    frame_key = layout.run_key(run_id, f"{slug}/training-candles.parquet")
    store.put_parquet(layout.MODELS, frame_key, candles)
    return window_key, frame_key
