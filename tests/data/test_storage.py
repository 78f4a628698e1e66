"""BucketStore: the same behaviour on the local directory backend and on a real S3 server."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crypto_mlops.config import get_settings
from crypto_mlops.data.errors import DataUnavailable, InvalidInput
from crypto_mlops.data.storage import BucketStore, ObjectNotFound
from crypto_mlops.stack.ports import free_port


def ohlcv(n: int = 500, seed: int = 7) -> pd.DataFrame:
    """A canonical OHLCV frame: UTC DatetimeIndex named timestamp, float columns, a gap."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-01", periods=n + 1, freq="h", tz="UTC").delete(17)
    index = pd.DatetimeIndex(index, name="timestamp", freq=None)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + rng.uniform(0, 0.005, n)),
            "low": np.minimum(open_, close) * (1 - rng.uniform(0, 0.005, n)),
            "close": close,
            "volume": rng.lognormal(3, 1, n),
        },
        index=index,
    )


def assert_same_frame(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert isinstance(got.index, pd.DatetimeIndex)
    assert str(got.index.tz) == "UTC" and got.index.name == "timestamp"
    assert list(got.dtypes) == [np.dtype("float64")] * 5


@pytest.fixture
def local_store(tmp_path: Path) -> BucketStore:
    return BucketStore.local(tmp_path / "buckets")


@pytest.fixture
def s3_store(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> BucketStore:
    # A unique prefix keeps tests (and repeated sessions) out of each other's buckets.
    monkeypatch.setenv("BUCKET_PREFIX", f"t{uuid.uuid4().hex[:8]}-")
    get_settings.cache_clear()
    store = BucketStore.from_settings()
    assert store.kind == "s3"
    return store


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest) -> Iterator[BucketStore]:
    yield request.getfixturevalue(f"{request.param}_store")


def test_parquet_round_trip_keeps_the_frame_exactly(store: BucketStore) -> None:
    frame = ohlcv()
    uri = store.put_parquet("raw-data", "csv/BTCUSDT/1h/runs/r1.parquet", frame)
    assert uri.endswith("csv/BTCUSDT/1h/runs/r1.parquet")
    assert_same_frame(store.get_parquet("raw-data", "csv/BTCUSDT/1h/runs/r1.parquet"), frame)


@pytest.mark.integration
def test_s3_objects_land_in_the_prefixed_bucket(s3_store: BucketStore, s3_server) -> None:
    frame = ohlcv(50)
    store_uri = s3_store.put_parquet("processed-data", "BTCUSDT/1h/run.parquet", frame)
    bucket = s3_store.bucket_name("processed-data")
    assert store_uri == f"s3://{bucket}/BTCUSDT/1h/run.parquet"
    raw = s3_server.client().get_object(Bucket=bucket, Key="BTCUSDT/1h/run.parquet")["Body"].read()
    assert raw[:4] == b"PAR1"  # a real Parquet object on the S3 server, not a local file


def test_local_backend_uses_the_data_dir_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("BUCKET_PREFIX", "dev-")
    get_settings.cache_clear()
    store = BucketStore.from_settings()
    assert store.kind == "local"
    store.put_json("quality-reports", "BTCUSDT/1h/r1.json", {"passed": True})
    assert (tmp_path / "dev-quality-reports" / "BTCUSDT" / "1h" / "r1.json").is_file()


def test_listing_by_prefix(store: BucketStore) -> None:
    for key in ("a/BTC/1.json", "a/BTC/2.json", "a/BTCX/1.json", "a/ETH/1.json", "b.json"):
        store.put_json("models", key, {"key": key})
    assert store.list("models", "a/BTC/") == ["a/BTC/1.json", "a/BTC/2.json"]
    assert store.list("models", "a/BTC") == ["a/BTC/1.json", "a/BTC/2.json", "a/BTCX/1.json"]
    assert store.list("models") == ["a/BTC/1.json", "a/BTC/2.json", "a/BTCX/1.json", "a/ETH/1.json", "b.json"]
    assert store.list("models", "nothing/") == []
    assert store.list("quality-reports") == []  # a bucket nobody wrote to yet


def test_missing_key_is_a_clear_key_error(store: BucketStore) -> None:
    store.put_json("models", "present.json", {"x": 1})
    with pytest.raises(KeyError) as err:
        store.get_parquet("models", "absent/run.parquet")
    assert isinstance(err.value, ObjectNotFound)
    assert "absent/run.parquet" in str(err.value) and "models" in str(err.value)
    with pytest.raises(ObjectNotFound):
        store.get_json("raw-data", "never-created-bucket.json")
    assert not store.exists("models", "absent/run.parquet")
    assert store.exists("models", "present.json")


def test_json_bytes_overwrite_and_delete(store: BucketStore) -> None:
    ts = pd.Timestamp("2026-11-26 05:00", tz="UTC")
    store.put_json("models", "runs/r1/deploy.json", {"promoted": False, "at": ts, "score": 0.25})
    assert store.get_json("models", "runs/r1/deploy.json") == {
        "promoted": False,
        "at": str(ts),
        "score": 0.25,
    }
    store.put_bytes("models", "blob.bin", b"v1")
    store.put_bytes("models", "blob.bin", b"version-2")
    assert store.get_bytes("models", "blob.bin") == b"version-2"
    store.delete("models", "blob.bin")
    store.delete("models", "blob.bin")  # already gone: fine
    assert not store.exists("models", "blob.bin")


@pytest.mark.parametrize("key", ["", "/abs.json", "a/../b.json", "a//b.json", "a\\b.json", "./x.json"])
def test_bad_keys_are_refused(local_store: BucketStore, key: str) -> None:
    with pytest.raises(InvalidInput):
        local_store.put_json("models", key, {})


@pytest.mark.parametrize("bucket", ["Models", "x", "under_score", "-lead", "a" * 64])
def test_bad_bucket_names_are_refused(local_store: BucketStore, bucket: str) -> None:
    with pytest.raises(InvalidInput):
        local_store.put_json(bucket, "k.json", {})


def test_local_writes_are_atomic_under_concurrency(local_store: BucketStore) -> None:
    """Readers racing writers only ever see a complete old or new Parquet file."""
    versions = [ohlcv(2000, seed=s) for s in range(3)]
    local_store.put_parquet("processed-data", "hot.parquet", versions[0])
    stop = threading.Event()
    errors: list[BaseException] = []
    reads = 0

    def writer(seed: int) -> None:
        while not stop.is_set():
            local_store.put_parquet("processed-data", "hot.parquet", versions[seed])

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            try:
                got = local_store.get_parquet("processed-data", "hot.parquet")
                assert any(
                    np.array_equal(got.to_numpy(), v.to_numpy()) and bool((got.index == v.index).all())
                    for v in versions
                )
                reads += 1
            except BaseException as exc:  # surfaced below
                errors.append(exc)
                stop.set()

    threads = [threading.Thread(target=writer, args=(s,)) for s in (1, 2)] + [threading.Thread(target=reader)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert reads > 0
    assert local_store.list("processed-data") == ["hot.parquet"]  # no temp files left or listed


@pytest.mark.integration
def test_concurrent_bucket_creation_is_tolerated(s3_env: dict[str, str]) -> None:
    name = f"race-{uuid.uuid4().hex[:8]}"
    stores = [BucketStore.from_settings() for _ in range(4)]
    errors: list[BaseException] = []

    def create(store: BucketStore) -> None:
        try:
            store.put_json(name, "k.json", {"ok": True})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert stores[0].get_json(name, "k.json") == {"ok": True}


def _no_such_bucket() -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": "NoSuchBucket", "Message": "racing"}}, "CreateBucket")


def test_create_bucket_racing_another_creator_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """SeaweedFS may answer NoSuchBucket to a CreateBucket racing another client's: asked again, it is fine."""
    store = BucketStore.s3(f"http://127.0.0.1:{free_port()}", "k", "s")
    backend = store.backend
    answers: list[Exception | None] = [_no_such_bucket(), _no_such_bucket(), None]
    calls: list[str] = []

    def create_bucket(Bucket: str) -> None:  # boto3's keyword
        calls.append(Bucket)
        answer = answers.pop(0)
        if answer is not None:
            raise answer

    monkeypatch.setattr(backend.client, "create_bucket", create_bucket)  # type: ignore[attr-defined]
    backend.ensure_bucket("models")
    assert calls == ["models"] * 3
    backend.ensure_bucket("models")  # remembered: not asked again
    assert len(calls) == 3

    answers[:] = [_no_such_bucket()] * 5
    with pytest.raises(DataUnavailable, match=r"failed to create bucket other.*NoSuchBucket"):
        backend.ensure_bucket("other")  # a bucket that never appears is an outage, not a race
    assert calls[3:] == ["other"] * 5


def test_unreachable_s3_is_data_unavailable() -> None:
    store = BucketStore.s3(f"http://127.0.0.1:{free_port()}", "k", "s")
    t0 = time.monotonic()
    with pytest.raises(DataUnavailable, match=r"S3 at http://127\.0\.0\.1:\d+ failed to .*Could not connect"):
        store.put_json("models", "k.json", {})
    assert time.monotonic() - t0 < 20
