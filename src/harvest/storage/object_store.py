"""The ObjectStore contract: model artifacts, dataset snapshots and backups, by key.

Every object carries the SHA-256 of its bytes, computed while writing and checked while reading: a reader
that reaches the end of a damaged object gets a StoreCorruptionError instead of bad bytes.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, BinaryIO, Protocol

from harvest.errors import InvalidInputError, StoreCorruptionError

CHUNK_SIZE = 1024 * 1024
_KEY_PATTERN = re.compile(r"^[A-Za-z0-9._=+@,:-]+(/[A-Za-z0-9._=+@,:-]+)*$")

Payload = bytes | BinaryIO | IO[bytes] | Path


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str | None
    modified: datetime | None = None


def check_key(key: str) -> str:
    """Keys are relative, slash-separated paths of safe characters; no '.'/'..' segments."""
    if not key or len(key) > 1024 or not _KEY_PATTERN.match(key):
        raise InvalidInputError(
            f"invalid object key {key!r}: use letters, digits and ._=+@,:- separated by '/'"
        )
    if any(part.startswith(".") for part in key.split("/")):
        raise InvalidInputError(f"invalid object key {key!r}: no segment may start with '.'")
    return key


def check_prefix(prefix: str) -> str:
    if prefix:
        check_key(prefix.rstrip("/"))
    return prefix


class ByteStream(Protocol):
    """What ChecksumReader reads from: a file, or an HTTP body such as botocore's StreamingBody."""

    def read(self, amt: int = ..., /) -> bytes: ...

    def close(self) -> None: ...


class ChecksumReader(io.RawIOBase):
    """Reads a stream through SHA-256; at EOF the digest must equal the expected one."""

    def __init__(self, raw: ByteStream, expected_sha256: str | None, key: str) -> None:
        self._raw = raw
        self._expected = expected_sha256
        self._key = key
        self._hash = hashlib.sha256()
        self._checked = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        if not data:
            self._verify()
            return 0
        self._hash.update(data)
        buffer[: len(data)] = data
        return len(data)

    def _verify(self) -> None:
        if self._checked:
            return
        self._checked = True
        if self._expected is None:
            raise StoreCorruptionError(f"object {self._key!r} has no stored checksum; it cannot be verified")
        actual = self._hash.hexdigest()
        if actual != self._expected:
            raise StoreCorruptionError(
                f"object {self._key!r} is corrupt: sha256 {actual[:12]}… does not match the stored "
                f"{self._expected[:12]}…; restore it from a backup"
            )

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def spool_with_digest(payload: Payload) -> tuple[IO[bytes], str, int]:
    """A readable, rewound file with the payload's bytes, its SHA-256 and size (one pass over the data).

    Streams that cannot seek are spooled (in memory up to 64 MiB, then to disk) so we can checksum first
    and upload second, with the checksum attached to the object from its first byte.
    """
    if isinstance(payload, bytes):
        return io.BytesIO(payload), hashlib.sha256(payload).hexdigest(), len(payload)
    if isinstance(payload, Path):
        digest, size = _digest_file(payload)
        return payload.open("rb"), digest, size
    if payload.seekable():
        start = payload.tell()
        digest, size = _digest_stream(payload)
        payload.seek(start)
        return payload, digest, size
    spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115 - returned open
    hasher = hashlib.sha256()
    size = 0
    while chunk := payload.read(CHUNK_SIZE):
        hasher.update(chunk)
        spool.write(chunk)
        size += len(chunk)
    spool.seek(0)
    return spool, hasher.hexdigest(), size


def _digest_file(path: Path) -> tuple[str, int]:
    with path.open("rb") as handle:
        return _digest_stream(handle)


def _digest_stream(stream: IO[bytes]) -> tuple[str, int]:
    hasher = hashlib.sha256()
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


class ObjectWriter(ABC):
    """A streaming write: bytes go to the store as they are produced (S3: a multipart upload), hashed on
    the way. `commit()` makes the object visible under its key with its checksum; `abort()` — or leaving a
    `with` block by an exception — leaves nothing under the key. Memory stays bounded by a few parts."""

    def __init__(self, key: str) -> None:
        self.key = check_key(key)
        self.size = 0
        self._hash = hashlib.sha256()
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError(f"object writer for {self.key!r} is already closed")
        if data:
            self._hash.update(data)
            self.size += len(data)
            self._write(bytes(data) if not isinstance(data, bytes) else data)
        return len(data)

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    def commit(self) -> ObjectInfo:
        if self._done:
            raise ValueError(f"object writer for {self.key!r} is already closed")
        self._done = True
        try:
            return self._commit(self.sha256)
        except BaseException:
            self._abort()
            raise

    def abort(self) -> None:
        if not self._done:
            self._done = True
            self._abort()

    @abstractmethod
    def _write(self, data: bytes) -> None: ...

    @abstractmethod
    def _commit(self, sha256: str) -> ObjectInfo: ...

    @abstractmethod
    def _abort(self) -> None: ...

    def __enter__(self) -> ObjectWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.abort()
        elif not self._done:
            self.commit()


class ObjectStore(ABC):
    """Objects by key. Implementations must pass `tests/integration/test_object_store_contract.py`."""

    backend: str

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the objects are, for messages and manifests (`s3://bucket/prefix/`, `/dir`)."""

    @abstractmethod
    def writer(self, key: str, *, content_type: str | None = None) -> ObjectWriter:
        """A streaming writer for `key` (see ObjectWriter): for data produced on the fly, of any size,
        without a temporary copy."""

    def cleanup_incomplete(self, prefix: str = "", older_than_s: float = 86_400.0) -> int:
        """Remove what interrupted writers left behind under `prefix` (temporary files, unfinished
        multipart uploads) that is older than `older_than_s`; returns how many were removed."""
        return 0

    @abstractmethod
    def put(self, key: str, payload: Payload, *, content_type: str | None = None) -> ObjectInfo:
        """Store bytes, a binary stream (read to its end, streamed) or a file path under `key`."""

    @abstractmethod
    def open(self, key: str) -> IO[bytes]:
        """A streaming reader; reading to the end verifies the checksum (StoreCorruptionError)."""

    @abstractmethod
    def info(self, key: str) -> ObjectInfo:
        """Size and checksum of an object (NotFoundError when absent)."""

    @abstractmethod
    def list(self, prefix: str = "", *, checksums: bool = True) -> Iterator[ObjectInfo]:
        """Objects whose key starts with `prefix`, in key order. `checksums=False` may leave `sha256`
        unset where fetching it costs a request per object (S3)."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Delete an object; False when it was not there."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    def get(self, key: str) -> bytes:
        with self.open(key) as reader:
            return reader.read()

    def download(self, key: str, path: Path) -> ObjectInfo:
        """Copy an object to a local file (written next to it, then renamed, so no half files)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with self.open(key) as reader, partial.open("wb") as out:
            shutil.copyfileobj(reader, out, CHUNK_SIZE)
        partial.replace(path)
        return self.info(key)
