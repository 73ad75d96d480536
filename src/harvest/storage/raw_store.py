"""The RawStore contract: versioned raw pages, one backend per store (PostgreSQL, MongoDB).

A page version is keyed by (source, URL, content hash) *relative to the page's latest version*: writing a
body whose hash equals the latest version's records nothing new (so a retried or repeated write is a
no-op), and any other body becomes version latest+1 — also when a page reverts to an older content.
Every stored version gets a `seq` from one store-wide, increasing counter: the cursor consumers use to
read "what changed since I last looked".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

import zstandard

_COMPRESSOR = zstandard.ZstdCompressor(level=3)
BODY_ENCODING = "zstd"


def content_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def compress(body: bytes) -> bytes:
    return _COMPRESSOR.compress(body)


def decompress(data: bytes, encoding: str) -> bytes:
    if encoding == "identity":
        return data
    if encoding == BODY_ENCODING:
        return zstandard.ZstdDecompressor().decompress(data)
    raise ValueError(f"unknown body encoding {encoding!r}")


@dataclass(frozen=True)
class RawPageIn:
    """A fetched page as the crawler hands it to the store."""

    source: str
    url: str
    body: bytes
    fetched_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    final_url: str | None = None
    http_status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    render_mode: str = "static"
    content_type: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return content_hash(self.body)


@dataclass(frozen=True)
class RawPageVersion:
    """A stored version of a page, body decompressed."""

    source: str
    url: str
    version: int
    seq: int
    content_hash: str
    body: bytes
    fetched_at: datetime
    final_url: str | None
    http_status: int | None
    headers: dict[str, str]
    render_mode: str
    content_type: str | None
    meta: dict[str, Any]

    def to_json(self, *, text_body: bool = False) -> dict[str, Any]:
        """A JSON-safe dict (body base64), the line format of `export`. With `text_body`, a body that is
        valid UTF-8 goes in `body_text` instead (smaller, and compresses far better than base64)."""
        record = {
            "source": self.source,
            "url": self.url,
            "version": self.version,
            "seq": self.seq,
            "content_hash": self.content_hash,
            "fetched_at": self.fetched_at.isoformat(),
            "final_url": self.final_url,
            "http_status": self.http_status,
            "headers": self.headers,
            "render_mode": self.render_mode,
            "content_type": self.content_type,
            "meta": self.meta,
        }
        if text_body:
            try:
                record["body_text"] = self.body.decode("utf-8")
                return record
            except UnicodeDecodeError:
                pass
        record["body_b64"] = base64.b64encode(self.body).decode("ascii")
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> RawPageVersion:
        """The inverse of `to_json`; raises ValueError when the record is incomplete or its body does not
        hash to its content_hash."""
        try:
            if "body_text" in record:
                body = str(record["body_text"]).encode("utf-8")
            else:
                body = base64.b64decode(record["body_b64"], validate=True)
            page = cls(
                source=str(record["source"]),
                url=str(record["url"]),
                version=int(record["version"]),
                seq=int(record["seq"]),
                content_hash=str(record["content_hash"]),
                body=body,
                fetched_at=datetime.fromisoformat(record["fetched_at"]),
                final_url=record.get("final_url"),
                http_status=record.get("http_status"),
                headers=dict(record.get("headers") or {}),
                render_mode=str(record.get("render_mode") or "static"),
                content_type=record.get("content_type"),
                meta=dict(record.get("meta") or {}),
            )
        except (KeyError, TypeError, ValueError, binascii.Error) as error:
            raise ValueError(f"not a raw page record: {error}") from error
        if content_hash(body) != page.content_hash:
            raise ValueError(
                f"the body of {page.url} (version {page.version}) does not match its content hash"
            )
        return page


@dataclass(frozen=True)
class UpsertResult:
    """What a write did: `created` is False when the body equals the latest version's (nothing stored)."""

    source: str
    url: str
    version: int
    seq: int
    created: bool


class RawStore(ABC):
    """Versioned raw pages. Implementations must pass `tests/integration/test_raw_store_contract.py`."""

    backend: str

    @abstractmethod
    def ensure_indexes(self) -> None:
        """Create the indexes the operations below rely on (idempotent)."""

    @abstractmethod
    def upsert_many(self, pages: Iterable[RawPageIn]) -> list[UpsertResult]:
        """Store pages whose body differs from their latest version, atomically per call where the
        backend allows; results are in input order."""

    def upsert(self, page: RawPageIn) -> UpsertResult:
        return self.upsert_many([page])[0]

    @abstractmethod
    def get(self, source: str, url: str, version: int) -> RawPageVersion | None: ...

    def get_many(self, keys: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str, int], RawPageVersion]:
        """Several versions by (source, url, version); missing ones are left out. Backends batch this."""
        found = {}
        for source, url, version in keys:
            page = self.get(source, url, version)
            if page is not None:
                found[(source, url, version)] = page
        return found

    @abstractmethod
    def latest(self, source: str, url: str) -> RawPageVersion | None: ...

    @abstractmethod
    def latest_hashes(self, source: str, urls: Iterable[str]) -> dict[str, tuple[int, str]]:
        """{url: (latest version, content hash)} for the URLs that have a stored version."""

    @abstractmethod
    def changed_since(
        self, cursor: int = 0, *, source: str | None = None, limit: int | None = None
    ) -> Iterator[RawPageVersion]:
        """Versions with seq > cursor, in seq order; the last one's seq is the next cursor."""

    @abstractmethod
    def count(self, source: str | None = None) -> int:
        """Number of stored versions (of one source, or all)."""

    @abstractmethod
    def delete_source(self, source: str) -> int:
        """Delete every version of a source; returns how many were deleted."""

    @abstractmethod
    def restore_versions(self, pages: Iterable[RawPageVersion]) -> int:
        """Insert versions exactly as exported (same seq and version numbers), for restoring a backup into
        an empty store; later writes continue after the highest seq. Returns how many were inserted."""

    @abstractmethod
    def clear(self) -> int:
        """Delete every version of every source (restoring over a store with `--force`)."""

    def export(self, out: IO[bytes], *, source: str | None = None) -> int:
        """Write versions as JSON lines (body base64) in seq order; returns how many were written."""
        written = 0
        for page in self.changed_since(0, source=source):
            out.write(json.dumps(page.to_json(), ensure_ascii=False).encode("utf-8") + b"\n")
            written += 1
        return written

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> RawStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
