"""RawStore on PostgreSQL: the `raw_pages` table (jsonb headers/meta, zstd-compressed bytea body).

Writers take one transaction-scoped advisory lock, so `seq` values become visible in commit order: a
reader that has seen seq N never later finds a new version below N.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, cast

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, Engine, Row, Table, delete, func, insert, select, text, tuple_
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.exc import OperationalError

from harvest.db.models import RawPage
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

_WRITE_LOCK_KEY = 0x6861727665737402
_PAGE_SIZE = 500
_table = cast(Table, RawPage.__table__)


class PostgresRawStore(RawStore):
    backend = "postgresql"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def ensure_indexes(self) -> None:
        # The table and its indexes belong to the Alembic migrations, applied when the engine is made.
        with self._guard(), self.engine.connect() as conn:
            conn.execute(select(func.count()).select_from(_table).limit(1))

    def upsert_many(self, pages: Iterable[RawPageIn]) -> list[UpsertResult]:
        batch = list(pages)
        if not batch:
            return []
        keys = {(p.source, p.url) for p in batch}
        with self._guard(), self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK_KEY})
            latest = {
                (row.source, row.url): (row.version, row.content_hash, row.seq)
                for row in conn.execute(
                    select(
                        _table.c.source, _table.c.url, _table.c.version, _table.c.content_hash, _table.c.seq
                    )
                    .where(tuple_(_table.c.source, _table.c.url).in_(keys))
                    .order_by(_table.c.source, _table.c.url, _table.c.version.desc())
                    .ext(distinct_on(_table.c.source, _table.c.url))
                )
            }
            # Each result is either final, or (index into to_insert, created) until the insert gives seqs.
            planned: list[UpsertResult | tuple[int, bool]] = []
            to_insert: list[dict[str, Any]] = []
            for page in batch:
                key = (page.source, page.url)
                digest = page.content_hash
                version, latest_hash, seq = latest.get(key, (0, None, 0))
                if latest_hash == digest:
                    # seq < 0 marks a version queued earlier in this same batch
                    planned.append(
                        (-seq - 1, False) if seq < 0 else UpsertResult(*key, version, seq, created=False)
                    )
                    continue
                to_insert.append(_row_for(page, version + 1, digest))
                latest[key] = (version + 1, digest, -len(to_insert))
                planned.append((len(to_insert) - 1, True))
            seqs = _insert_returning_seqs(conn, to_insert) if to_insert else []
        results: list[UpsertResult] = []
        for item in planned:
            if isinstance(item, UpsertResult):
                results.append(item)
            else:
                index, created = item
                row = to_insert[index]
                results.append(UpsertResult(row["source"], row["url"], row["version"], seqs[index], created))
        return results

    def get(self, source: str, url: str, version: int) -> RawPageVersion | None:
        query = select(_table).where(
            _table.c.source == source, _table.c.url == url, _table.c.version == version
        )
        return self._one(query)

    def get_many(self, keys: Iterable[tuple[str, str, int]]) -> dict[tuple[str, str, int], RawPageVersion]:
        wanted = list(set(keys))
        if not wanted:
            return {}
        query = select(_table).where(tuple_(_table.c.source, _table.c.url, _table.c.version).in_(wanted))
        with self._guard(), self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return {(row.source, row.url, row.version): _version_from(row) for row in rows}

    def latest(self, source: str, url: str) -> RawPageVersion | None:
        query = (
            select(_table)
            .where(_table.c.source == source, _table.c.url == url)
            .order_by(_table.c.version.desc())
            .limit(1)
        )
        return self._one(query)

    def latest_hashes(self, source: str, urls: Iterable[str]) -> dict[str, tuple[int, str]]:
        wanted = list(set(urls))
        if not wanted:
            return {}
        query = (
            select(_table.c.url, _table.c.version, _table.c.content_hash)
            .where(_table.c.source == source, _table.c.url.in_(wanted))
            .order_by(_table.c.url, _table.c.version.desc())
            .ext(distinct_on(_table.c.url))
        )
        with self._guard(), self.engine.connect() as conn:
            return {row.url: (row.version, row.content_hash) for row in conn.execute(query)}

    def changed_since(
        self, cursor: int = 0, *, source: str | None = None, limit: int | None = None
    ) -> Iterator[RawPageVersion]:
        remaining = limit
        while remaining is None or remaining > 0:
            page_size = _PAGE_SIZE if remaining is None else min(_PAGE_SIZE, remaining)
            query = select(_table).where(_table.c.seq > cursor).order_by(_table.c.seq).limit(page_size)
            if source is not None:
                query = query.where(_table.c.source == source)
            with self._guard(), self.engine.connect() as conn:
                rows = conn.execute(query).all()
            for row in rows:
                yield _version_from(row)
            if len(rows) < page_size:
                return
            cursor = rows[-1].seq
            if remaining is not None:
                remaining -= len(rows)

    def count(self, source: str | None = None) -> int:
        query = select(func.count()).select_from(_table)
        if source is not None:
            query = query.where(_table.c.source == source)
        with self._guard(), self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def delete_source(self, source: str) -> int:
        with self._guard(), self.engine.begin() as conn:
            return conn.execute(delete(_table).where(_table.c.source == source)).rowcount

    def restore_versions(self, pages: Iterable[RawPageVersion]) -> int:
        rows = [_row_for_version(page) for page in pages]
        if not rows:
            return 0
        with self._guard(), self.engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK_KEY})
            conn.execute(insert(_table), rows)
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('raw_pages', 'seq'), "
                    "(SELECT coalesce(max(seq), 1) FROM raw_pages))"
                )
            )
        return len(rows)

    def clear(self) -> int:
        with self._guard(), self.engine.begin() as conn:
            return conn.execute(delete(_table)).rowcount

    def close(self) -> None:
        """The engine is shared with the rest of Harvest; its owner disposes of it."""

    def _one(self, query: Any) -> RawPageVersion | None:
        with self._guard(), self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _version_from(row)

    def _guard(self) -> _ConnectionGuard:
        return _ConnectionGuard()


class _ConnectionGuard:
    """Turns a lost connection into a StoreUnavailableError naming the store."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if isinstance(exc, OperationalError):
            first = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise StoreUnavailableError(f"the raw store (PostgreSQL) is unreachable: {first}") from exc


_JSONB_COLUMNS = frozenset({"headers", "meta"})


def _insert_returning_seqs(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert the rows (all with the same keys); their seqs, in row order.

    psycopg's pipelined executemany of one prepared single-row INSERT, not SQLAlchemy's multi-row
    VALUES: that statement had ~1,400 parameters, past psycopg's parse cache (50), so it was parsed
    anew for every batch, holding the GIL that a crawl's reactor thread needs."""
    columns = list(rows[0])
    statement = (
        f"INSERT INTO {_table.name} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING seq"
    )
    params = [tuple(Jsonb(row[c]) if c in _JSONB_COLUMNS else row[c] for c in columns) for row in rows]
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    seqs: list[int] = []
    with driver.cursor() as cursor:
        cursor.executemany(statement, params, returning=True)
        while True:
            row = cursor.fetchone()
            assert row is not None
            seqs.append(int(row[0]))
            if not cursor.nextset():
                break
    return seqs


def _row_for(page: RawPageIn | RawPageVersion, version: int, digest: str) -> dict[str, Any]:
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
        "body": compress(page.body),
        "body_size": len(page.body),
        "meta": dict(page.meta),
    }


def _row_for_version(page: RawPageVersion) -> dict[str, Any]:
    return _row_for(page, page.version, page.content_hash) | {"seq": page.seq}


def _version_from(row: Row[Any]) -> RawPageVersion:
    return RawPageVersion(
        source=row.source,
        url=row.url,
        version=row.version,
        seq=row.seq,
        content_hash=row.content_hash,
        body=decompress(row.body, row.body_encoding),
        fetched_at=row.fetched_at,
        final_url=row.final_url,
        http_status=row.http_status,
        headers=dict(row.headers),
        render_mode=row.render_mode,
        content_type=row.content_type,
        meta=dict(row.meta),
    )
