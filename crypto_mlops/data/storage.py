"""Bucket storage for raw data, processed data, quality reports and models.

One API, two backends with the same layout:

- S3 (boto3, path-style) when `MLFLOW_S3_ENDPOINT_URL` is set: MinIO in docker compose, SeaweedFS
  in the local stack and the tests. Buckets are created on first write (idempotently).
- A local directory otherwise: `DATA_DIR/<bucket>/<key>`. Writes go to a temp file in the target
  directory and are renamed into place, so a concurrent reader never sees half a file.

Bucket names get `BUCKET_PREFIX` in front (e.g. `dev-raw-data`); keys are `/`-separated.

    store = BucketStore.from_settings()
    store.put_parquet("raw-data", "csv/BTCUSDT/1h/runs/<run>.parquet", frame)
    frame = store.get_parquet("raw-data", "csv/BTCUSDT/1h/runs/<run>.parquet")
    store.list("raw-data", prefix="csv/BTCUSDT/")   # sorted full keys

A missing object raises `ObjectNotFound` (a `KeyError`); an unreachable or misconfigured S3
server raises `DataUnavailable`; a bad bucket name or key raises `InvalidInput`.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import tempfile
import threading
import time
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import pandas as pd

from crypto_mlops.config import Settings, get_settings
from crypto_mlops.data.errors import CryptoMLOpsError, DataUnavailable, InvalidInput

__all__ = ["BUCKETS", "BucketStore", "LocalBackend", "ObjectNotFound", "S3Backend"]

#: The buckets the project uses (before BUCKET_PREFIX).
BUCKETS = ("raw-data", "processed-data", "quality-reports", "models")
CREATE_ATTEMPTS = 5  # CreateBucket tries while another client is creating the same bucket (S3 backend)

# S3 bucket naming rules (the subset that matters): 3-63 chars, lowercase, digits, '-', '.'.
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TMP_PREFIX = ".tmp-"


class ObjectNotFound(CryptoMLOpsError, KeyError):
    """The bucket or key does not exist."""

    def __init__(self, bucket: str, key: str, where: str) -> None:
        super().__init__(f"{bucket}/{key}")
        self.bucket, self.key, self.where = bucket, key, where

    def __str__(self) -> str:  # KeyError would print the repr of its argument
        return f"object not found: {self.key!r} in bucket {self.bucket!r} ({self.where})"


def _check_key(key: str) -> str:
    if not key or key.startswith("/") or "\\" in key or "\x00" in key:
        raise InvalidInput(f"invalid object key {key!r}: must be a relative '/'-separated path")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise InvalidInput(f"invalid object key {key!r}: empty, '.' or '..' path segment")
    if any(part.startswith(_TMP_PREFIX) for part in key.split("/")):
        raise InvalidInput(f"invalid object key {key!r}: segments may not start with {_TMP_PREFIX!r}")
    return key


# ------------------------------------------------------------------------------------------------
# Backends: bytes in, bytes out. BucketStore adds names, formats and validation on top.
# ------------------------------------------------------------------------------------------------


class Backend(ABC):
    @abstractmethod
    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...

    @abstractmethod
    def get(self, bucket: str, key: str) -> bytes: ...

    @abstractmethod
    def exists(self, bucket: str, key: str) -> bool: ...

    @abstractmethod
    def list(self, bucket: str, prefix: str) -> list[str]: ...

    @abstractmethod
    def delete(self, bucket: str, key: str) -> None: ...

    @abstractmethod
    def ensure_bucket(self, bucket: str) -> None: ...

    @abstractmethod
    def uri(self, bucket: str, key: str) -> str: ...


class LocalBackend(Backend):
    """`root/<bucket>/<key>` on the local file system, atomic writes (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def _path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def ensure_bucket(self, bucket: str) -> None:
        (self.root / bucket).mkdir(parents=True, exist_ok=True)

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        target = self._path(bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)  # atomic on POSIX: readers see the old or the new file
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def get(self, bucket: str, key: str) -> bytes:
        path = self._path(bucket, key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(bucket, key, str(path)) from None

    def exists(self, bucket: str, key: str) -> bool:
        return self._path(bucket, key).is_file()

    def list(self, bucket: str, prefix: str) -> list[str]:
        base = self.root / bucket
        if not base.is_dir():
            return []
        # Walk only the directory the prefix points into (prefixes need not end at a '/').
        start = base / prefix.rsplit("/", 1)[0] if "/" in prefix else base
        if not start.is_dir():
            return []
        keys = []
        for path in start.rglob("*"):
            if path.name.startswith(_TMP_PREFIX) or not path.is_file():
                continue
            key = path.relative_to(base).as_posix()
            if key.startswith(prefix):
                keys.append(key)
        return sorted(keys)

    def delete(self, bucket: str, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path(bucket, key).unlink()

    def uri(self, bucket: str, key: str) -> str:
        return str(self._path(bucket, key))


class S3Backend(Backend):
    """Any S3-compatible server through boto3 (path-style addressing, SigV4)."""

    def __init__(
        self,
        endpoint_url: str | None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
    ) -> None:
        import boto3
        from botocore.config import Config

        self.endpoint_url = endpoint_url
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(
                s3={"addressing_style": "path"},
                signature_version="s3v4",
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )
        self._ensured: set[str] = set()
        self._lock = threading.Lock()

    def _where(self) -> str:
        return f"S3 at {self.endpoint_url or 'AWS'}"

    def _unavailable(self, exc: Exception, action: str) -> DataUnavailable:
        return DataUnavailable(f"object store {self._where()} failed to {action}: {exc}")

    def _call(self, action: str, fn: Any, /, **kwargs: Any) -> Any:
        """Run one boto3 call; connection and auth failures become DataUnavailable."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "NoSuchBucket", "404", "NotFound"}:
                raise
            raise self._unavailable(exc, action) from exc
        except BotoCoreError as exc:  # endpoint unreachable, timeouts, missing credentials
            raise self._unavailable(exc, action) from exc

    def ensure_bucket(self, bucket: str) -> None:
        from botocore.exceptions import ClientError

        if bucket in self._ensured:
            return
        with self._lock:
            if bucket in self._ensured:
                return
            action = f"create bucket {bucket}"
            for attempt in range(CREATE_ATTEMPTS):
                try:
                    self._call(action, self.client.create_bucket, Bucket=bucket)
                except ClientError as exc:
                    # SeaweedFS answers NoSuchBucket to a CreateBucket that races another client's creation
                    # of the same bucket; asked again a moment later, it says the bucket exists.
                    if attempt == CREATE_ATTEMPTS - 1:
                        raise self._unavailable(exc, action) from exc
                    time.sleep(0.1 * (attempt + 1))
                    continue
                except DataUnavailable as exc:
                    # Another process (or an earlier run) created it first: that is fine.
                    cause = exc.__cause__
                    code = cause.response.get("Error", {}).get("Code", "") if isinstance(cause, ClientError) else ""
                    if code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise
                break
            self._ensured.add(bucket)

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        self.ensure_bucket(bucket)
        self._call(
            f"write {bucket}/{key}",
            self.client.put_object,
            Bucket=bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
        )

    def get(self, bucket: str, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            resp = self._call(f"read {bucket}/{key}", self.client.get_object, Bucket=bucket, Key=key)
        except ClientError:
            raise ObjectNotFound(bucket, key, self._where()) from None
        body: bytes = resp["Body"].read()
        return body

    def exists(self, bucket: str, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._call(f"stat {bucket}/{key}", self.client.head_object, Bucket=bucket, Key=key)
        except ClientError:
            return False
        return True

    def list(self, bucket: str, prefix: str) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        keys: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                keys.extend(obj["Key"] for obj in page.get("Contents", []))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
                return []
            raise self._unavailable(exc, f"list {bucket}/{prefix}") from exc
        except BotoCoreError as exc:
            raise self._unavailable(exc, f"list {bucket}/{prefix}") from exc
        return sorted(keys)

    def delete(self, bucket: str, key: str) -> None:
        from botocore.exceptions import ClientError

        with contextlib.suppress(ClientError):  # deleting what is not there is not an error
            self._call(f"delete {bucket}/{key}", self.client.delete_object, Bucket=bucket, Key=key)

    def uri(self, bucket: str, key: str) -> str:
        return f"s3://{bucket}/{key}"


# ------------------------------------------------------------------------------------------------
# The store
# ------------------------------------------------------------------------------------------------


class BucketStore:
    """Parquet/JSON/bytes objects in named buckets, on S3 or in a local directory."""

    def __init__(self, backend: Backend, prefix: str = "") -> None:
        self.backend = backend
        self.prefix = prefix

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> BucketStore:
        """S3 when MLFLOW_S3_ENDPOINT_URL is set, else DATA_DIR; names prefixed by BUCKET_PREFIX."""
        s = settings or get_settings()
        if s.s3_endpoint_url:
            return cls.s3(
                s.s3_endpoint_url, s.aws_access_key_id, s.aws_secret_access_key, s.aws_region, prefix=s.bucket_prefix
            )
        return cls.local(s.data_dir, prefix=s.bucket_prefix)

    @classmethod
    def local(cls, root: Path | str, prefix: str = "") -> BucketStore:
        return cls(LocalBackend(Path(root)), prefix)

    @classmethod
    def s3(
        cls,
        endpoint_url: str | None,
        access_key: str | None = None,
        secret_key: str | None = None,
        region: str = "us-east-1",
        prefix: str = "",
    ) -> BucketStore:
        return cls(S3Backend(endpoint_url, access_key, secret_key, region), prefix)

    @property
    def kind(self) -> str:
        return "s3" if isinstance(self.backend, S3Backend) else "local"

    def bucket_name(self, bucket: str) -> str:
        """The real bucket name (BUCKET_PREFIX + bucket), validated against S3's naming rules."""
        name = f"{self.prefix}{bucket}"
        if not _BUCKET_RE.match(name) or ".." in name:
            raise InvalidInput(f"invalid bucket name {name!r}: 3-63 characters, lowercase letters, digits, '-' and '.'")
        return name

    def uri(self, bucket: str, key: str) -> str:
        """Where an object lives: s3://bucket/key or a local file path."""
        return self.backend.uri(self.bucket_name(bucket), _check_key(key))

    def ensure_buckets(self, buckets: tuple[str, ...] = BUCKETS) -> None:
        """Create the project's buckets (idempotent); writes create them on demand anyway."""
        for bucket in buckets:
            self.backend.ensure_bucket(self.bucket_name(bucket))

    # --- bytes -------------------------------------------------------------------------------
    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str = "application/octet-stream") -> str:
        """Write an object (replacing it atomically); returns its URI."""
        name, key = self.bucket_name(bucket), _check_key(key)
        self.backend.put(name, key, bytes(data), content_type)
        return self.backend.uri(name, key)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self.backend.get(self.bucket_name(bucket), _check_key(key))

    # --- Parquet -----------------------------------------------------------------------------
    def put_parquet(self, bucket: str, key: str, frame: pd.DataFrame) -> str:
        """Write a DataFrame as Parquet, index included (a UTC DatetimeIndex keeps its tz)."""
        buf = io.BytesIO()
        with warnings.catch_warnings():
            # pyarrow reads DatetimeIndex.values for a tz-aware index, which pandas 3.1 deprecates
            # (Pandas4Warning); the tz is written from the dtype and survives the round trip.
            warnings.filterwarnings("ignore", message="DatetimeIndex.values returning an ndarray")
            frame.to_parquet(buf, engine="pyarrow", index=True)
        return self.put_bytes(bucket, key, buf.getvalue(), "application/vnd.apache.parquet")

    def get_parquet(self, bucket: str, key: str) -> pd.DataFrame:
        data = self.get_bytes(bucket, key)
        try:
            return pd.read_parquet(io.BytesIO(data), engine="pyarrow")
        except Exception as exc:  # pyarrow raises several types for a corrupt file
            raise DataUnavailable(f"{self.uri(bucket, key)} is not a readable Parquet file: {exc}") from exc

    # --- JSON --------------------------------------------------------------------------------
    def put_json(self, bucket: str, key: str, payload: Any) -> str:
        """Write JSON (datetimes, paths and other objects via str())."""
        text = json.dumps(payload, indent=2, sort_keys=True, default=str, allow_nan=True)
        return self.put_bytes(bucket, key, text.encode("utf-8"), "application/json")

    def get_json(self, bucket: str, key: str) -> Any:
        data = self.get_bytes(bucket, key)
        try:
            return json.loads(data)
        except ValueError as exc:
            raise DataUnavailable(f"{self.uri(bucket, key)} is not valid JSON: {exc}") from exc

    # --- listing -----------------------------------------------------------------------------
    def list(self, bucket: str, prefix: str = "") -> list[str]:
        """Sorted full keys under `prefix` (a plain string prefix, like S3); [] for a missing bucket."""
        if prefix.startswith("/") or ".." in prefix.split("/"):
            raise InvalidInput(f"invalid key prefix {prefix!r}")
        return self.backend.list(self.bucket_name(bucket), prefix)

    def exists(self, bucket: str, key: str) -> bool:
        return self.backend.exists(self.bucket_name(bucket), _check_key(key))

    def delete(self, bucket: str, key: str) -> None:
        """Remove an object; no error when it is already gone."""
        self.backend.delete(self.bucket_name(bucket), _check_key(key))

    def __repr__(self) -> str:
        where = getattr(self.backend, "endpoint_url", None) or getattr(self.backend, "root", "")
        return f"<BucketStore {self.kind} {where} prefix={self.prefix!r}>"
