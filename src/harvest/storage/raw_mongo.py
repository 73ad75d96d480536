"""RawStore on MongoDB (production): one document per page version, body zstd-compressed as BSON binary.

`seq` values are reserved in ranges from a counter document. MongoDB has no commit-ordered sequence, so
under *concurrent writers* a reader can see seq N+1 before N lands; Harvest's crawl writes through one
pipeline per run and the process stage finds its work in PostgreSQL, so the cursor is used for exports
and catch-up reads, where re-reading from an earlier cursor is harmless.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC
from typing import Any

import pymongo
from bson import Binary
from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, PyMongoError

from harvest.errors import StoreUnavailableError
from harvest.storage.raw_store import (
    BODY_ENCODING,
    RawPageIn,
    RawPageVersion,
    RawStore,
    UpsertResult,
    compress,
    decompress,
)

_COUNTER_ID = "raw_pages.seq"
_MAX_WRITE_ATTEMPTS = 5
_AUTH_FAILED = 18


class MongoRawStore(RawStore):
    backend = "mongodb"

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self._url_for_messages = _redact(url)
        self.client: MongoClient[dict[str, Any]] = MongoClient(
            url,
            serverSelectionTimeoutMS=int(timeout_s * 1000),
            connectTimeoutMS=int(timeout_s * 1000),
            tz_aware=True,
            tzinfo=UTC,
        )
        database = self.client.get_default_database(default="harvest")
        self.pages: Collection[dict[str, Any]] = database["raw_pages"]
        self.counters: Collection[dict[str, Any]] = database["counters"]

    def ensure_indexes(self) -> None:
        with self._guard():
            self.pages.create_index(
                [("source", ASCENDING), ("url", ASCENDING), ("version", DESCENDING)],
                unique=True,
                name="source_url_version",
            )
            self.pages.create_index([("seq", ASCENDING)], unique=True, name="seq")
            self.pages.create_index([("source", ASCENDING), ("seq", ASCENDING)], name="source_seq")

    def upsert_many(self, pages: Iterable[RawPageIn]) -> list[UpsertResult]:
        batch = list(pages)
        if not batch:
            return []
        for attempt in range(_MAX_WRITE_ATTEMPTS):
            try:
                with self._guard():
                    return self._write_once(batch)
            except (DuplicateKeyError, BulkWriteError):
                # Another writer stored a version of one of these URLs between our read and write:
                # read the latest versions again; documents we did insert now dedupe by hash.
                if attempt == _MAX_WRITE_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _write_once(self, batch: list[RawPageIn]) -> list[UpsertResult]:
        latest: dict[tuple[str, str], tuple[int, str | None, int]] = {}
        by_source: dict[str, set[str]] = {}
        for page in batch:
            by_source.setdefault(page.source, set()).add(page.url)
        for source, urls in by_source.items():
            for url, (version, digest, seq) in self._latest_meta(source, urls).items():
                latest[(source, url)] = (version, digest, seq)
        planned: list[UpsertResult | tuple[int, bool]] = []
        to_insert: list[dict[str, Any]] = []
        for page in batch:
            key = (page.source, page.url)
            digest = page.content_hash
            version, latest_hash, seq = latest.get(key, (0, None, 0))
            if latest_hash == digest:
                planned.append((-seq - 1, False) if seq < 0 else UpsertResult(*key, version, seq, False))
                continue
            to_insert.append(_document_for(page, version + 1, digest))
            latest[key] = (version + 1, digest, -len(to_insert))
            planned.append((len(to_insert) - 1, True))
        if to_insert:
            first_seq = self._reserve_seqs(len(to_insert))
            for offset, document in enumerate(to_insert):
                document["seq"] = first_seq + offset
            self.pages.insert_many(to_insert, ordered=True)
        results: list[UpsertResult] = []
        for item in planned:
            if isinstance(item, UpsertResult):
                results.append(item)
            else:
                index, created = item
                doc = to_insert[index]
                results.append(UpsertResult(doc["source"], doc["url"], doc["version"], doc["seq"], created))
        return results

    def _reserve_seqs(self, count: int) -> int:
        counter = self.counters.find_one_and_update(
            {"_id": _COUNTER_ID},
            {"$inc": {"value": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert counter is not None
        return int(counter["value"]) - count + 1

    def _latest_meta(self, source: str, urls: Iterable[str]) -> dict[str, tuple[int, str, int]]:
        found: dict[str, tuple[int, str, int]] = {}
        cursor = self.pages.find(
            {"source": source, "url": {"$in": list(urls)}},
            {"url": 1, "version": 1, "content_hash": 1, "seq": 1, "_id": 0},
        )
        for doc in cursor:
            known = found.get(doc["url"])
            if known is None or doc["version"] > known[0]:
                found[doc["url"]] = (int(doc["version"]), str(doc["content_hash"]), int(doc["seq"]))
        return found

    def get(self, source: str, url: str, version: int) -> RawPageVersion | None:
        with self._guard():
            doc = self.pages.find_one({"source": source, "url": url, "version": version})
        return None if doc is None else _version_from(doc)

    def get_many(self, keys: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str, int], RawPageVersion]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        query = {"$or": [{"source": s, "url": u, "version": v} for s, u, v in wanted]}
        with self._guard():
            documents = list(self.pages.find(query))
        return {(d["source"], d["url"], int(d["version"])): _version_from(d) for d in documents}

    def latest(self, source: str, url: str) -> RawPageVersion | None:
        with self._guard():
            doc = self.pages.find_one({"source": source, "url": url}, sort=[("version", DESCENDING)])
        return None if doc is None else _version_from(doc)

    def latest_hashes(self, source: str, urls: Iterable[str]) -> dict[str, tuple[int, str]]:
        wanted = set(urls)
        if not wanted:
            return {}
        with self._guard():
            meta = self._latest_meta(source, wanted)
        return {url: (version, digest) for url, (version, digest, _seq) in meta.items()}

    def changed_since(
        self, cursor: int = 0, *, source: str | None = None, limit: int | None = None
    ) -> Iterator[RawPageVersion]:
        query: dict[str, Any] = {"seq": {"$gt": cursor}}
        if source is not None:
            query["source"] = source
        with self._guard():
            found = self.pages.find(query, sort=[("seq", ASCENDING)], batch_size=200)
            if limit is not None:
                found = found.limit(limit)
            for doc in found:
                yield _version_from(doc)

    def count(self, source: str | None = None) -> int:
        with self._guard():
            return self.pages.count_documents({} if source is None else {"source": source})

    def delete_source(self, source: str) -> int:
        with self._guard():
            return self.pages.delete_many({"source": source}).deleted_count

    def restore_versions(self, pages: Iterable[RawPageVersion]) -> int:
        documents = [_document_for_version(page) for page in pages]
        if not documents:
            return 0
        with self._guard():
            self.pages.insert_many(documents, ordered=True)
            self.counters.update_one(
                {"_id": _COUNTER_ID}, {"$max": {"value": max(d["seq"] for d in documents)}}, upsert=True
            )
        return len(documents)

    def clear(self) -> int:
        with self._guard():
            deleted = self.pages.delete_many({}).deleted_count
            self.counters.delete_one({"_id": _COUNTER_ID})
        return deleted

    def close(self) -> None:
        self.client.close()

    def _guard(self) -> _MongoGuard:
        return _MongoGuard(self._url_for_messages)


class _MongoGuard:
    """Turns driver failures into one readable StoreUnavailableError naming HARVEST_RAW_STORE_URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or isinstance(exc, DuplicateKeyError | BulkWriteError):
            return
        if isinstance(exc, OperationFailure) and exc.code == _AUTH_FAILED:
            raise StoreUnavailableError(
                f"MongoDB at {self.url} refused the credentials in HARVEST_RAW_STORE_URL"
            ) from exc
        if isinstance(exc, PyMongoError):
            first = str(exc).strip().splitlines()[0][:300]
            raise StoreUnavailableError(
                f"cannot use MongoDB at {self.url} (HARVEST_RAW_STORE_URL): {first}"
            ) from exc


def _redact(url: str) -> str:
    parsed = pymongo.uri_parser.parse_uri(url, validate=False, warn=True)
    hosts = ",".join(f"{host}:{port}" for host, port in parsed["nodelist"])
    return f"mongodb://{hosts}/{parsed.get('database') or 'harvest'}"


def _document_for(page: RawPageIn | RawPageVersion, version: int, digest: str) -> dict[str, Any]:
    return {
        "source": page.source,
        "url": page.url,
        "version": version,
        "content_hash": digest,
        "final_url": page.final_url,
        "http_status": page.http_status,
        "headers": dict(page.headers),
        "fetched_at": page.fetched_at,
        "render_mode": page.render_mode,
        "content_type": page.content_type,
        "body_encoding": BODY_ENCODING,
        "body": Binary(compress(page.body)),
        "body_size": len(page.body),
        "meta": dict(page.meta),
    }


def _document_for_version(page: RawPageVersion) -> dict[str, Any]:
    return _document_for(page, page.version, page.content_hash) | {"seq": page.seq}


def _version_from(doc: Mapping[str, Any]) -> RawPageVersion:
    fetched_at = doc["fetched_at"]
    if fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=UTC)
    return RawPageVersion(
        source=doc["source"],
        url=doc["url"],
        version=int(doc["version"]),
        seq=int(doc["seq"]),
        content_hash=doc["content_hash"],
        body=decompress(bytes(doc["body"]), doc.get("body_encoding", BODY_ENCODING)),
        fetched_at=fetched_at,
        final_url=doc.get("final_url"),
        http_status=doc.get("http_status"),
        headers=dict(doc.get("headers") or {}),
        render_mode=doc.get("render_mode", "static"),
        content_type=doc.get("content_type"),
        meta=dict(doc.get("meta") or {}),
    )
