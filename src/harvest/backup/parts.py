"""Backup parts as streams: bytes → zstd → (AES-GCM) → the store's streaming writer, and back.

Writing never holds more than a few MiB: each chunk is compressed, encrypted and handed to the
ObjectWriter (an S3 multipart upload or a local file) as it is produced. Reading checks the part's
SHA-256 against the manifest — at the end of the stream, so callers that must not act on bad data read a
part through once first (`check_part`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import zstandard

from harvest.backup.crypto import BackupKey, Decryptor, Encryptor
from harvest.errors import NotFoundError, StoreCorruptionError
from harvest.storage import ObjectStore
from harvest.storage.object_store import CHUNK_SIZE, ObjectWriter

# (part name, stored bytes so far, the part's size when known) after every chunk: the CLI's progress bars.
ProgressCallback = Callable[[str, int, int | None], None]


def labelled(on_progress: ProgressCallback | None, label: str) -> ProgressCallback | None:
    """The same progress, each part's name prefixed (a restore reads every part twice: check, load)."""
    if on_progress is None:
        return None
    return lambda name, done, total: on_progress(f"{label} {name}", done, total)


@dataclass(frozen=True)
class PartRecord:
    """A part as the manifest lists it: its stored size and SHA-256, and the bytes before compression."""

    name: str
    size: int
    sha256: str
    raw_bytes: int
    compressed: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "size": self.size,
            "sha256": self.sha256,
            "raw_bytes": self.raw_bytes,
            "compressed": self.compressed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PartRecord:
        return cls(
            str(data["name"]),
            int(data["size"]),
            str(data["sha256"]),
            int(data.get("raw_bytes", 0)),
            bool(data.get("compressed", True)),
        )


class RateLimit:
    """Keeps a backup's upload under HARVEST_BACKUP_MAX_MBPS (0 = no limit), across all its parts."""

    def __init__(self, max_mbps: float) -> None:
        self.bytes_per_s = max_mbps * 1_000_000
        self.started = time.monotonic()
        self.sent = 0

    def account(self, size: int) -> None:
        if self.bytes_per_s <= 0:
            return
        self.sent += size
        ahead = self.sent / self.bytes_per_s - (time.monotonic() - self.started)
        if ahead > 0:
            time.sleep(ahead)


class PartWriter:
    """A file-like sink for one part (`write`), closed by `finish()` into its PartRecord."""

    def __init__(
        self,
        writer: ObjectWriter,
        name: str,
        *,
        key: BackupKey | None,
        compress_level: int | None,
        limit: RateLimit,
        on_progress: ProgressCallback | None,
    ) -> None:
        self._writer = writer
        self.name = name
        self._compressor = (
            zstandard.ZstdCompressor(level=compress_level).compressobj() if compress_level else None
        )
        self._encryptor = Encryptor(key, name) if key is not None else None
        self._limit = limit
        self._on_progress = on_progress
        self.raw_bytes = 0

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            self._writer.abort()  # nothing half-written stays under the part's key

    def write(self, data: bytes) -> int:
        self.raw_bytes += len(data)
        if self._compressor is not None:
            data = self._compressor.compress(data)
        self._store(data)
        return len(data)

    def _store(self, data: bytes) -> None:
        if self._encryptor is not None:
            data = self._encryptor.update(data)
        if data:
            self._writer.write(data)
            self._limit.account(len(data))
            if self._on_progress is not None:
                self._on_progress(self.name, self._writer.size, None)

    def finish(self) -> PartRecord:
        tail = self._compressor.flush() if self._compressor is not None else b""
        self._store(tail)
        if self._encryptor is not None:
            last = self._encryptor.finish()
            self._writer.write(last)
            self._limit.account(len(last))
        info = self._writer.commit()
        if self._on_progress is not None:
            self._on_progress(self.name, info.size, info.size)
        assert info.sha256 is not None
        return PartRecord(self.name, info.size, info.sha256, self.raw_bytes, self._compressor is not None)


def read_part(
    store: ObjectStore,
    object_key: str,
    record: PartRecord,
    key: BackupKey | None,
    on_progress: ProgressCallback | None = None,
) -> Iterator[bytes]:
    """The part's original bytes, chunk by chunk. The stored bytes are hashed on the way: when the stream
    ends, a size or SHA-256 different from the manifest's raises StoreCorruptionError."""
    decryptor = Decryptor(key, record.name) if key is not None else None
    decompressor = zstandard.ZstdDecompressor().decompressobj() if record.compressed else None
    digest = hashlib.sha256()
    size = 0
    try:
        with _opened(store, object_key, record) as stored:
            while chunk := stored.read(CHUNK_SIZE):
                digest.update(chunk)
                size += len(chunk)
                if on_progress is not None:
                    on_progress(record.name, size, record.size)
                pieces = decryptor.update(chunk) if decryptor is not None else iter((chunk,))
                for piece in pieces:
                    out = decompressor.decompress(piece) if decompressor is not None else piece
                    if out:
                        yield out
    except zstandard.ZstdError as error:
        raise StoreCorruptionError(f"backup part {record.name} is corrupt: {error}") from error
    if decryptor is not None:
        decryptor.finish()
    if decompressor is not None and not decompressor.eof:
        raise StoreCorruptionError(
            f"backup part {record.name} is truncated (its compressed stream ends early)"
        )
    _check(record, size, digest.hexdigest())


@contextmanager
def _opened(store: ObjectStore, object_key: str, record: PartRecord) -> Iterator[IO[bytes]]:
    """The stored part, with the store's own failures said in backup terms."""
    try:
        with store.open(object_key) as stored:
            yield stored
    except NotFoundError as error:
        raise StoreCorruptionError(f"backup part {record.name} is missing ({object_key})") from error
    except StoreCorruptionError as error:
        if error.message.startswith("backup part"):
            raise
        raise StoreCorruptionError(
            f"backup part {record.name} is corrupt: its bytes do not match the checksum stored with them"
        ) from error


def _check(record: PartRecord, size: int, sha256: str) -> None:
    if size != record.size:
        raise StoreCorruptionError(
            f"backup part {record.name} is {size} bytes, the manifest says {record.size}: it is truncated "
            "or was changed"
        )
    if sha256 != record.sha256:
        raise StoreCorruptionError(
            f"backup part {record.name} is corrupt: sha256 {sha256[:12]}… does not match the manifest's "
            f"{record.sha256[:12]}…"
        )


def check_part(
    store: ObjectStore,
    object_key: str,
    record: PartRecord,
    key: BackupKey | None,
    on_progress: ProgressCallback | None = None,
) -> None:
    """Read a part through once: size and SHA-256 as the manifest says, and (encrypted) every frame
    authentic. Decompression is left to the real read."""
    decryptor = Decryptor(key, record.name) if key is not None else None
    digest = hashlib.sha256()
    size = 0
    with _opened(store, object_key, record) as stored:
        while chunk := stored.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
            if decryptor is not None:
                for _ in decryptor.update(chunk):
                    pass
            if on_progress is not None:
                on_progress(record.name, size, record.size)
    _check(record, size, digest.hexdigest())
    if decryptor is not None:
        decryptor.finish()
