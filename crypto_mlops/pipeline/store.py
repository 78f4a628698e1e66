"""The bucket store the steps use (`crypto_mlops.data.storage.BucketStore`, S3 or local directory)."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd

from crypto_mlops.config import Settings, get_settings


class Store(Protocol):
    """The part of BucketStore the pipeline relies on."""

    def put_parquet(self, bucket: str, key: str, frame: pd.DataFrame) -> str: ...
    def get_parquet(self, bucket: str, key: str) -> pd.DataFrame: ...
    def put_json(self, bucket: str, key: str, payload: Any) -> str: ...
    def get_json(self, bucket: str, key: str) -> Any: ...  # parsed JSON
    def list(self, bucket: str, prefix: str = "") -> list[str]: ...
    def exists(self, bucket: str, key: str) -> bool: ...


def open_store(settings: Settings | None = None) -> Store:
    from crypto_mlops.data.storage import BucketStore

    store: Store = BucketStore.from_settings(settings or get_settings())
    return store
