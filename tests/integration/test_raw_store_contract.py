"""The RawStore contract, run against every backend: PostgreSQL (embedded) and MongoDB over the wire."""

from __future__ import annotations

import io
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from harvest.db.engine import get_engine
from harvest.errors import StoreUnavailableError
from harvest.settings import Settings
from harvest.storage import RawPageIn, RawPageVersion, RawStore
from harvest.storage.raw_mongo import MongoRawStore
from harvest.storage.raw_postgres import PostgresRawStore


@pytest.fixture(params=["postgresql", "mongodb"])
def store(request: pytest.FixtureRequest) -> Iterator[RawStore]:
    if request.param == "postgresql":
        settings: Settings = request.getfixturevalue("db_settings")
        engine = get_engine(settings)
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE raw_pages"))
        raw: RawStore = PostgresRawStore(engine)
    else:
        raw = MongoRawStore(request.getfixturevalue("mongo_url"))
    raw.ensure_indexes()
    yield raw
    raw.close()


def page(
    url: str = "https://example.org/a", body: bytes = b"<html>A</html>", source: str = "s1", **kw: object
) -> RawPageIn:
    return RawPageIn(source=source, url=url, body=body, **kw)  # type: ignore[arg-type]


def test_first_write_creates_version_one_with_all_fields(store: RawStore) -> None:
    fetched = datetime(2026, 11, 1, 12, 30, tzinfo=UTC)
    result = store.upsert(
        page(
            final_url="https://example.org/a/",
            http_status=200,
            headers={"etag": '"x1"'},
            fetched_at=fetched,
            render_mode="browser",
            content_type="text/html",
            meta={"depth": 2},
        )
    )
    assert (result.version, result.created) == (1, True)
    got = store.latest("s1", "https://example.org/a")
    assert got is not None
    assert got.body == b"<html>A</html>"
    assert (got.version, got.seq, got.final_url, got.http_status) == (
        1,
        result.seq,
        "https://example.org/a/",
        200,
    )
    assert got.headers == {"etag": '"x1"'}
    assert got.fetched_at == fetched
    assert (got.render_mode, got.content_type, got.meta) == ("browser", "text/html", {"depth": 2})
    assert got.content_hash == page().content_hash


def test_same_body_again_stores_nothing(store: RawStore) -> None:
    first = store.upsert(page())
    again = store.upsert(page(fetched_at=datetime.now(UTC)))
    assert again.created is False
    assert (again.version, again.seq) == (first.version, first.seq)
    assert store.count() == 1


def test_changed_body_is_a_new_version_and_old_versions_stay(store: RawStore) -> None:
    store.upsert(page(body=b"one"))
    second = store.upsert(page(body=b"two"))
    assert (second.version, second.created) == (2, True)
    latest = store.latest("s1", "https://example.org/a")
    old = store.get("s1", "https://example.org/a", 1)
    assert latest is not None and old is not None
    assert (latest.body, old.body) == (b"two", b"one")
    assert store.get("s1", "https://example.org/a", 3) is None


def test_a_page_that_reverts_to_older_content_gets_a_new_version(store: RawStore) -> None:
    for body in (b"A", b"B", b"A"):
        store.upsert(page(body=body))
    latest = store.latest("s1", "https://example.org/a")
    assert latest is not None and (latest.version, latest.body) == (3, b"A")


def test_batch_with_repeats_is_ordered_and_deduplicated(store: RawStore) -> None:
    results = store.upsert_many(
        [page(body=b"x"), page(url="https://example.org/b", body=b"y"), page(body=b"x"), page(body=b"z")]
    )
    assert [(r.url[-1], r.version, r.created) for r in results] == [
        ("a", 1, True),
        ("b", 1, True),
        ("a", 1, False),
        ("a", 2, True),
    ]
    assert results[2].seq == results[0].seq
    assert store.count() == 3


def test_changed_since_is_a_resumable_cursor(store: RawStore) -> None:
    seqs = [store.upsert(page(url=f"https://example.org/{i}", body=str(i).encode())).seq for i in range(7)]
    store.upsert(page(url="https://other.org/x", source="s2"))
    first = list(store.changed_since(0, source="s1", limit=4))
    assert [p.seq for p in first] == seqs[:4]
    rest = list(store.changed_since(first[-1].seq, source="s1"))
    assert [p.seq for p in rest] == seqs[4:]
    everything = list(store.changed_since(0))
    assert [p.seq for p in everything] == sorted(p.seq for p in everything)
    assert len(everything) == 8
    assert list(store.changed_since(everything[-1].seq)) == []


def test_count_and_delete_are_per_source(store: RawStore) -> None:
    store.upsert_many([page(url=f"https://example.org/{i}", body=b"%d" % i) for i in range(3)])
    store.upsert(page(source="keep"))
    assert (store.count("s1"), store.count("keep"), store.count()) == (3, 1, 4)
    assert store.delete_source("s1") == 3
    assert (store.count("s1"), store.count()) == (0, 1)
    assert store.latest("keep", "https://example.org/a") is not None


def test_latest_hashes(store: RawStore) -> None:
    store.upsert(page(body=b"1"))
    store.upsert(page(body=b"2"))
    hashes = store.latest_hashes("s1", ["https://example.org/a", "https://example.org/missing"])
    assert hashes == {"https://example.org/a": (2, page(body=b"2").content_hash)}


def test_export_writes_json_lines_with_the_exact_bytes(store: RawStore) -> None:
    binary = bytes(range(256)) * 4  # not UTF-8: bodies are bytes, never decoded by the store
    store.upsert(page(body=binary))
    store.upsert(page(url="https://example.org/b", body=b"b", source="s2"))
    out = io.BytesIO()
    assert store.export(out, source="s1") == 1
    lines = out.getvalue().splitlines()
    record = json.loads(lines[0])
    import base64

    assert base64.b64decode(record["body_b64"]) == binary
    assert (record["source"], record["version"]) == ("s1", 1)


def test_large_bodies_round_trip(store: RawStore) -> None:
    body = os.urandom(1024 * 1024) + b"<p>text</p>" * 200_000  # ~3 MiB, partly incompressible
    store.upsert(page(body=body))
    got = store.latest("s1", "https://example.org/a")
    assert got is not None and got.body == body


def test_ensure_indexes_is_idempotent(store: RawStore) -> None:
    store.ensure_indexes()
    store.ensure_indexes()
    assert store.upsert(page()).created


def test_concurrent_writers_never_duplicate_a_version(store: RawStore) -> None:
    errors: list[BaseException] = []

    def write(body: bytes) -> None:
        try:
            for _ in range(5):
                store.upsert(page(body=body))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(b"same",)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count() == 1
    versions = [p.version for p in store.changed_since(0)]
    assert versions == [1]


def test_unreachable_mongodb_is_one_readable_error() -> None:
    raw = MongoRawStore("mongodb://127.0.0.1:9/harvest", timeout_s=0.3)
    with pytest.raises(
        StoreUnavailableError, match=r"cannot use MongoDB at mongodb://127\.0\.0\.1:9/harvest"
    ):
        raw.count()
    raw.close()


def test_get_many_returns_exactly_the_versions_asked_for(store: RawStore) -> None:
    store.upsert(page(body=b"1"))
    store.upsert(page(body=b"2"))
    store.upsert(page(url="https://example.org/b", body=b"b"))
    found = store.get_many(
        [
            ("s1", "https://example.org/a", 1),
            ("s1", "https://example.org/b", 1),
            ("s1", "https://example.org/a", 9),
        ]
    )
    assert {key: p.body for key, p in found.items()} == {
        ("s1", "https://example.org/a", 1): b"1",
        ("s1", "https://example.org/b", 1): b"b",
    }


def test_restore_versions_keeps_seq_and_versions_and_writes_continue_after(store: RawStore) -> None:
    store.upsert(page(body=b"<html>one</html>"))
    store.upsert(page(body="<html>deux é</html>".encode()))
    store.upsert(page(url="https://example.org/bin", body=bytes(range(256)), source="s2"))
    exported = [p.to_json(text_body=True) for p in store.changed_since(0)]
    assert "body_text" in exported[0] and "body_b64" in exported[2]  # binary bodies stay base64
    assert store.clear() == 3 and store.count() == 0
    restored = [RawPageVersion.from_json(json.loads(json.dumps(r))) for r in exported]
    assert store.restore_versions(restored) == 3
    again = list(store.changed_since(0))
    assert [(p.seq, p.source, p.url, p.version, p.body) for p in again] == [
        (p.seq, p.source, p.url, p.version, p.body) for p in restored
    ]
    after = store.upsert(page(body=b"<html>three</html>"))
    assert after.version == 3 and after.seq > max(p.seq for p in restored)


def test_from_json_refuses_a_body_that_does_not_match_its_hash() -> None:
    record = RawPageVersion(
        "s", "https://e.org/", 1, 1, "0" * 64, b"x", datetime.now(UTC), None, 200, {}, "static", None, {}
    ).to_json(text_body=True)
    with pytest.raises(ValueError, match="does not match its content hash"):
        RawPageVersion.from_json(record)
