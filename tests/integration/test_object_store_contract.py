"""The ObjectStore contract, run against every backend: a local directory and an S3 API server (moto)."""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from harvest.errors import InvalidInputError, NotFoundError, StoreCorruptionError, StoreUnavailableError
from harvest.storage import ObjectStore
from harvest.storage.objects_local import LocalObjectStore
from harvest.storage.objects_s3 import MULTIPART_THRESHOLD, S3ObjectStore
from tests.conftest import S3_KEY_ID, S3_SECRET


def s3_store(endpoint: str, bucket: str, prefix: str = "harvest") -> S3ObjectStore:
    return S3ObjectStore(
        bucket, prefix, endpoint_url=endpoint, access_key_id=S3_KEY_ID, secret_access_key=S3_SECRET
    )


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects")
    else:
        yield s3_store(request.getfixturevalue("s3_endpoint"), request.getfixturevalue("s3_bucket"))


class OneWayStream(io.RawIOBase):
    """A stream that cannot seek, like a socket or a pipe."""

    def __init__(self, data: bytes) -> None:
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self._inner.read(min(len(buffer), 65536))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_put_get_info_exists_delete(store: ObjectStore) -> None:
    info = store.put("models/run-1/model.pt", b"weights", content_type="application/octet-stream")
    assert (info.size, info.sha256) == (7, hashlib.sha256(b"weights").hexdigest())
    assert store.get("models/run-1/model.pt") == b"weights"
    assert store.exists("models/run-1/model.pt")
    assert store.info("models/run-1/model.pt").sha256 == info.sha256
    assert store.delete("models/run-1/model.pt") is True
    assert store.delete("models/run-1/model.pt") is False
    assert not store.exists("models/run-1/model.pt")
    with pytest.raises(NotFoundError):
        store.get("models/run-1/model.pt")


def test_overwrite_replaces_content_and_checksum(store: ObjectStore) -> None:
    store.put("a/b", b"first")
    store.put("a/b", b"second")
    assert store.get("a/b") == b"second"
    assert store.info("a/b").sha256 == hashlib.sha256(b"second").hexdigest()


def test_large_non_seekable_stream_is_streamed_and_verified(store: ObjectStore) -> None:
    data = os.urandom(MULTIPART_THRESHOLD * 2 + 12345)  # past the threshold: a multipart upload on S3
    info = store.put("snapshots/big.parquet", io.BufferedReader(OneWayStream(data)))
    assert info.size == len(data)
    digest = hashlib.sha256()
    with store.open("snapshots/big.parquet") as reader:
        while chunk := reader.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest() == info.sha256


def test_put_from_path_and_download(store: ObjectStore, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(b"x" * 100_000)
    store.put("backups/in.bin", source)
    target = tmp_path / "out" / "copy.bin"
    info = store.download("backups/in.bin", target)
    assert target.read_bytes() == source.read_bytes()
    assert info.size == 100_000
    assert not target.with_name("copy.bin.partial").exists()


def test_list_by_prefix_in_key_order(store: ObjectStore) -> None:
    for key in ["runs/2/b", "runs/1/a", "runs/10/c", "other/x"]:
        store.put(key, key.encode())
    assert [o.key for o in store.list("runs/")] == ["runs/1/a", "runs/10/c", "runs/2/b"]
    assert [o.key for o in store.list("runs/1")] == ["runs/1/a", "runs/10/c"]
    assert len(list(store.list())) == 4
    assert all(o.sha256 == hashlib.sha256(o.key.encode()).hexdigest() for o in store.list())


@pytest.mark.parametrize("key", ["", "../etc/passwd", "/abs", "a//b", "a/../b", ".meta/x", "sp ace", "a\\b"])
def test_unsafe_keys_are_refused(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid object key"):
        store.put(key, b"x")


def test_local_corruption_is_detected_on_read(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.put("data/file", b"original bytes")
    (tmp_path / "objects" / "data" / "file").write_bytes(b"tampered bytes")
    with pytest.raises(StoreCorruptionError, match="is corrupt"):
        store.get("data/file")


def test_s3_corruption_is_detected_on_read(s3_endpoint: str, s3_bucket: str) -> None:
    store = s3_store(s3_endpoint, s3_bucket)
    store.put("data/file", b"original bytes")
    # Rewrite the bytes behind Harvest's back, keeping the old checksum metadata.
    raw = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    )
    old = raw.head_object(Bucket=s3_bucket, Key="harvest/data/file")["Metadata"]
    raw.put_object(Bucket=s3_bucket, Key="harvest/data/file", Body=b"tampered bytes", Metadata=old)
    with pytest.raises(StoreCorruptionError, match="is corrupt"):
        store.get("data/file")


def test_s3_prefix_keeps_stores_apart(s3_endpoint: str, s3_bucket: str) -> None:
    one, two = s3_store(s3_endpoint, s3_bucket, "one"), s3_store(s3_endpoint, s3_bucket, "two")
    one.put("k", b"1")
    assert not two.exists("k")
    assert [o.key for o in one.list()] == ["k"]


def test_s3_missing_bucket_names_the_setting(s3_endpoint: str) -> None:
    store = s3_store(s3_endpoint, "no-such-bucket")
    with pytest.raises(StoreUnavailableError, match="HARVEST_OBJECT_STORE_URL"):
        store.check_bucket()
    with pytest.raises(StoreUnavailableError, match="does not exist"):
        store.put("k", b"x")


def test_s3_unreachable_endpoint_names_the_setting() -> None:
    store = S3ObjectStore(
        "bucket", endpoint_url="http://127.0.0.1:9", access_key_id="a", secret_access_key="b", timeout_s=0.5
    )
    with pytest.raises(StoreUnavailableError, match="HARVEST_S3_ENDPOINT_URL"):
        store.put("k", b"x")


def test_streaming_writer_uploads_parts_as_written(store: ObjectStore) -> None:
    chunks = [os.urandom(3 * 1024 * 1024 + n) for n in range(6)]  # ~18 MiB: several S3 parts
    with store.writer("backups/big.dump", content_type="application/octet-stream") as out:
        for chunk in chunks:
            out.write(chunk)
        assert not store.exists("backups/big.dump")  # invisible until committed
    data = b"".join(chunks)
    info = store.info("backups/big.dump")
    assert (info.size, info.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert store.get("backups/big.dump") == data
    assert [o.key for o in store.list("backups/")] == ["backups/big.dump"]  # no sidecar or temp file listed
    store.put("backups/big.dump", b"replaced")  # a plain put over a streamed object
    assert store.get("backups/big.dump") == b"replaced"
    assert store.delete("backups/big.dump") and not store.exists("backups/big.dump")


def test_streaming_writer_small_object_and_abort(store: ObjectStore) -> None:
    writer = store.writer("backups/small")
    writer.write(b"tiny")
    assert writer.commit().sha256 == hashlib.sha256(b"tiny").hexdigest()
    assert store.get("backups/small") == b"tiny"
    with pytest.raises(RuntimeError), store.writer("backups/broken") as out:
        out.write(os.urandom(MULTIPART_THRESHOLD + 1))  # one part already uploaded
        raise RuntimeError("producer died")
    assert not store.exists("backups/broken")
    assert [o.key for o in store.list()] == ["backups/small"]
    assert store.cleanup_incomplete("backups/", older_than_s=0) == 0  # abort left nothing behind


def test_streamed_s3_object_corruption_is_detected(s3_endpoint: str, s3_bucket: str) -> None:
    store = s3_store(s3_endpoint, s3_bucket)
    with store.writer("data/streamed") as out:
        out.write(os.urandom(MULTIPART_THRESHOLD * 2))
    raw = store.client  # behind Harvest's back: same bytes count, other content
    raw.put_object(Bucket=s3_bucket, Key="harvest/data/streamed", Body=b"x" * (MULTIPART_THRESHOLD * 2))
    with pytest.raises(StoreCorruptionError, match="is corrupt"):
        store.get("data/streamed")


def test_local_leftover_temporary_files_are_cleaned_up(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    writer = store.writer("backups/2026/part")
    writer.write(b"half")  # its process was killed: the temporary file stays
    assert store.cleanup_incomplete("backups/", older_than_s=3600) == 0  # may still be running
    assert [o.key for o in store.list()] == []
    assert store.cleanup_incomplete("other/", older_than_s=0) == 0
    assert store.cleanup_incomplete("backups/", older_than_s=0) == 1
    assert not any(p.is_file() for p in (tmp_path / "objects" / "backups").rglob("*"))


def test_s3_unfinished_uploads_are_cleaned_up(s3_endpoint: str, s3_bucket: str) -> None:
    store = s3_store(s3_endpoint, s3_bucket)
    store.client.create_multipart_upload(Bucket=s3_bucket, Key="harvest/backups/killed/part")
    # (moto reports every upload as started in 2010, so the age cut-off is not exercised here)
    assert store.cleanup_incomplete("other/", older_than_s=0) == 0
    assert store.cleanup_incomplete("backups/", older_than_s=0) == 1
    assert store.client.list_multipart_uploads(Bucket=s3_bucket).get("Uploads", []) == []
