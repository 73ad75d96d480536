"""Backups end to end against the crawled, processed, resolved and embedded demo site: a round trip through
an S3 API server into a fresh data directory, damaged backups, encryption, the CLI, health and the
schedule."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from harvest.api.app import create_app
from harvest.backup import backup_status, create_backup, list_backups, restore_backup, verify_backup
from harvest.backup.crypto import key_for_manifest
from harvest.backup.parts import read_part
from harvest.backup.pgtools import drop_database, harvest_database
from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.errors import ConfigError, ConflictError, HarvestError, NotFoundError, StoreUnavailableError
from harvest.jobs.backups import backup_due, queue_backup, run_backup_job
from harvest.search.engine import Searcher
from harvest.search.request import SearchRequest
from harvest.settings import Settings, settings_env
from harvest.storage import open_object_store, open_raw_store
from harvest.storage.objects_local import LocalObjectStore
from tests.conftest import S3_KEY_ID, S3_SECRET, make_settings, run_cli
from tests.demo_corpus import demo_corpus

pytestmark = pytest.mark.slow
QUERIES = ["solar farm near Lisbon", "battery storage on the grid", "Acme Corporation recycling"]
ARTIFACT = os.urandom(200_000)
MLFLOW_ARTIFACT = "mlflow/1/0123abcd/artifacts/classification_report.json"


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> dict[str, Any]:
    bucket = f"backups-{uuid.uuid4().hex[:10]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
    ).create_bucket(Bucket=bucket)
    return {
        "bucket": bucket,
        "settings": {
            "s3_endpoint_url": s3_endpoint,
            "s3_access_key_id": S3_KEY_ID,
            "s3_secret_access_key": S3_SECRET,
        },
    }


@pytest.fixture(scope="module")
def corpus(
    db_settings: Settings, s3: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    objects = tmp_path_factory.mktemp("objects")
    with demo_corpus(db_settings, object_store_url=str(objects), backup_schedule="off", **s3["settings"]) as (
        settings,
        _site,
    ):
        store = open_object_store(settings)
        store.put("models/run-1/model.pt", ARTIFACT)
        with store.writer("snapshots/train/part-0.parquet") as out:
            out.write(b"PAR1" + ARTIFACT[:5000])
        # MLflow writes its artifacts into the store itself: no checksum of ours comes with them
        (objects / MLFLOW_ARTIFACT).parent.mkdir(parents=True)
        (objects / MLFLOW_ARTIFACT).write_bytes(b'{"macro_f1": 0.9}')
        yield settings


def state_of(settings: Settings) -> dict[str, Any]:
    """Everything the round trip must keep: row counts, vectors, raw bodies, search results."""
    with get_engine(settings).connect() as conn:
        # keyword ranking estimates the chunk count from planner statistics (pg_class.reltuples); a
        # restore analyzes, so the source gets fresh statistics too, as autovacuum would give it
        conn.execute(text("ANALYZE"))
        conn.commit()
        tables = (
            conn.execute(text("SELECT schemaname || '.' || relname FROM pg_stat_user_tables")).scalars().all()
        )
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
        vectors = dict(
            conn.execute(
                text("SELECT model_id || '/' || chunk_id, embedding::text FROM chunk_embeddings")
            ).all()
        )
    with open_raw_store(settings) as raw:
        bodies = {
            (p.source, p.url, p.version): (p.seq, p.content_hash, hashlib.sha256(p.body).hexdigest())
            for p in raw.changed_since(0)
        }
    searcher = Searcher(settings)
    results = {
        (query, mode): [
            (h.document_id, h.chunk_id, round(h.score, 6))
            for h in searcher.search(SearchRequest(query, mode=mode)).hits
        ]
        for query in QUERIES
        for mode in ("hybrid", "vector", "keyword")
    }
    return {"counts": counts, "vectors": vectors, "bodies": bodies, "results": results}


@pytest.fixture
def mlflow_database(corpus: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """MLflow's database next to Harvest's (under a name of this test's own: the test server is shared)."""
    name = f"mlflow_{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr("harvest.backup.create.MLFLOW_DATABASE", name)
    server = harvest_database(corpus)
    with server.named("postgres").connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    with server.named(name).connect() as conn:
        conn.execute("CREATE TABLE experiments (id int PRIMARY KEY, name text)")
        conn.execute("INSERT INTO experiments VALUES (1, 'baseline'), (2, 'bigger model')")
    yield name
    drop_database(server.named(name))


def test_round_trip_through_s3_into_a_fresh_data_dir(
    corpus: Settings, s3: dict[str, Any], tmp_path: Path, mlflow_database: str
) -> None:
    url = f"s3://{s3['bucket']}/harvest-backups"
    manifest = create_backup(corpus, to=url)
    mlflow = manifest.database("mlflow")
    assert mlflow is not None and mlflow.tables == {"public.experiments": 2}
    assert manifest.objects_mode == "copied"
    assert {o.key for o in manifest.objects} == {
        "models/run-1/model.pt",
        "snapshots/train/part-0.parquet",
        MLFLOW_ARTIFACT,
    }
    assert manifest.raw.versions > 20 and manifest.database("harvest") is not None
    before = state_of(corpus)
    assert before["counts"]["public.entity_mentions"] > 0 and len(before["vectors"]) > 20
    assert all(before["results"].values())

    fresh = make_settings(data_dir=tmp_path / "fresh", backup_schedule="off", **s3["settings"])
    try:
        report = restore_backup(fresh, "latest", source=url)
        assert report.indexes["hnsw"] >= 1 and report.objects == 3
        after = state_of(fresh)
        assert after["bodies"] == before["bodies"]  # same versions, seq numbers and body hashes
        assert after["vectors"] == before["vectors"]
        dumped = manifest.databases[0].tables
        assert {t: n for t, n in after["counts"].items() if t != "public.raw_pages"} == dumped
        # the source has one more backup run: the one that made this backup, recorded after its snapshot
        assert after["counts"] == before["counts"] | {
            "public.backup_runs": before["counts"]["public.backup_runs"] - 1
        }
        assert after["results"] == before["results"]
        assert open_object_store(fresh).get("models/run-1/model.pt") == ARTIFACT
        assert open_object_store(fresh).get(MLFLOW_ARTIFACT) == b'{"macro_f1": 0.9}'
        with harvest_database(fresh).named(mlflow_database).connect() as conn:
            assert conn.execute("SELECT name FROM experiments ORDER BY id").fetchall() == [
                ("baseline",),
                ("bigger model",),
            ]
        with pytest.raises(ConflictError, match="not empty"):
            restore_backup(fresh, manifest.id, source=url)  # a second time: the target has data now
    finally:
        dispose_engines()
        EmbeddedPostgres(fresh.data_dir).stop()


def _damage(good: Path, where: Path, backup_id: str, how: str) -> Path:
    shutil.copytree(good, where)
    part = where / backup_id / "harvest.pgdump.zst"
    if how == "changed byte":
        data = bytearray(part.read_bytes())
        data[len(data) // 2] ^= 0x40
        part.write_bytes(bytes(data))
    elif how == "changed byte, store checksum rewritten":  # storage that recomputes its own checksums
        data = bytearray(part.read_bytes())
        data[len(data) // 3] ^= 0x01
        LocalObjectStore(where).put(f"{backup_id}/harvest.pgdump.zst", bytes(data))
    elif how == "truncated":
        raw = where / backup_id / "raw_pages.jsonl.zst"
        raw.write_bytes(raw.read_bytes()[:-200])
    elif how == "missing part":
        LocalObjectStore(where).delete(f"{backup_id}/raw_pages.jsonl.zst")
    elif how == "no manifest":
        LocalObjectStore(where).delete(f"{backup_id}/manifest.json")
    return where


@pytest.mark.parametrize(
    "how",
    ["changed byte", "changed byte, store checksum rewritten", "truncated", "missing part", "no manifest"],
)
def test_damaged_backups_fail_verify_and_are_refused_by_restore(
    corpus: Settings, fresh_db_settings: Settings, tmp_path_factory: pytest.TempPathFactory, how: str
) -> None:
    good = tmp_path_factory.getbasetemp() / "good-backup"
    if not good.exists():
        create_backup(corpus, to=str(good))
    [backup] = list_backups(corpus, str(good))[1]
    damaged = _damage(good, tmp_path_factory.mktemp("damaged") / "b", backup.id, how)
    target = make_settings(**fresh_db_settings.model_dump())
    with get_engine(target).begin() as conn:  # a target with data, replaced only with --force
        conn.execute(text("INSERT INTO sources (name) VALUES ('keep-me')"))

    if how == "no manifest":
        assert [b.complete for b in list_backups(corpus, str(damaged))[1]] == [False]
        with pytest.raises(NotFoundError, match="incomplete"):
            verify_backup(corpus, backup.id, source=str(damaged))
    else:
        report = verify_backup(corpus, backup.id, source=str(damaged))
        assert not report.ok
        assert report.problems[0].name.startswith("part ")
    with pytest.raises(HarvestError, match=r"corrupt|missing|truncated|incomplete|damaged") as refused:
        restore_backup(target, backup.id, source=str(damaged), force=True)
    assert "\n" not in refused.value.message
    with get_engine(target).connect() as conn:  # untouched: not dropped, not emptied
        assert conn.execute(text("SELECT name FROM sources")).scalars().all() == ["keep-me"]


def test_encrypted_backup_needs_its_key(corpus: Settings, tmp_path: Path) -> None:
    secret = "correct horse battery staple 42"
    keyed = make_settings(**corpus.model_dump() | {"backup_encryption_key": secret})
    manifest = create_backup(keyed, to=str(tmp_path))
    assert manifest.encrypted and secret not in json.dumps(manifest.to_json())
    stored = (tmp_path / manifest.id / "raw_pages.jsonl.zst").read_bytes()
    assert not stored.startswith(b"\x28\xb5\x2f\xfd")  # not a readable zstd frame: ciphertext
    key = key_for_manifest(manifest.encryption, secret, manifest.id)
    part = manifest.part("raw_pages.jsonl.zst")
    plain = b"".join(read_part(LocalObjectStore(tmp_path), f"{manifest.id}/{part.name}", part, key))
    assert b"Harvest Gazette" in plain and b"Harvest Gazette" not in stored
    assert verify_backup(keyed, manifest.id, source=str(tmp_path)).ok
    with pytest.raises(ConfigError, match="is encrypted"):
        verify_backup(corpus, manifest.id, source=str(tmp_path))
    wrong = make_settings(**corpus.model_dump() | {"backup_encryption_key": "a different key, same length"})
    with pytest.raises(ConfigError, match="another HARVEST_BACKUP_ENCRYPTION_KEY"):
        restore_backup(wrong, manifest.id, source=str(tmp_path))


def test_cli_list_errors_and_dry_run(corpus: Settings, tmp_path: Path) -> None:
    manifest = create_backup(corpus, to=str(tmp_path))
    env = settings_env(corpus)
    listed = run_cli("backup", "list", "--from", str(tmp_path), "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)["backups"]
    assert entry["id"] == manifest.id and entry["complete"] and entry["raw_versions"] == manifest.raw.versions
    missing = run_cli("backup", "show", "20200101T000000Z", "--from", str(tmp_path), env=env)
    assert (
        missing.returncode == 2
        and missing.stderr.count("\n") == 1
        and "no backup 20200101T000000Z" in missing.stderr
    )
    empty = settings_env(
        make_settings(**corpus.model_dump() | {"database_name": f"empty_{uuid.uuid4().hex[:8]}"})
    )
    planned = run_cli("backup", "restore", manifest.id, "--from", str(tmp_path), "--dry-run", env=empty)
    assert planned.returncode == 0, planned.stderr
    assert "target: empty" in planned.stdout and "pg_restore" in planned.stdout


def test_a_failed_backup_shows_in_health_until_one_succeeds(corpus: Settings, tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailableError, match="does not exist"):
        create_backup(corpus, to="s3://no-such-bucket/backups")
    health = backup_status(corpus)
    assert (
        health.status == "failed"
        and health.last is not None
        and "no-such-bucket" in (health.last.message or "")
    )
    with TestClient(create_app(corpus)) as client:
        body = client.get("/api/health").json()
        assert body["status"] == "degraded" and body["backup"]["status"] == "failed"
        create_backup(corpus, to=str(tmp_path))
        body = client.get("/api/health").json()
        assert body["status"] == "ok" and body["backup"]["last_success"]["backup_id"]


def test_the_schedule_queues_a_backup_job_that_backs_up_and_prunes(corpus: Settings, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    nightly = make_settings(
        **corpus.model_dump() | {"backup_schedule": "0 3 * * *", "backup_url": str(tmp_path)}
    )
    assert backup_due(nightly, datetime(2026, 11, 25, 3, 0, tzinfo=UTC))
    assert not backup_due(nightly, datetime(2026, 11, 25, 3, 1, tzinfo=UTC))
    assert not backup_due(
        make_settings(**corpus.model_dump() | {"backup_schedule": "off"}),
        datetime(2026, 11, 25, 3, 0, tzinfo=UTC),
    )
    assert queue_backup(nightly) is not None
    assert queue_backup(nightly) is None  # one waiting backup job is enough
    with get_engine(nightly).connect() as conn:
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM procrastinate_jobs "
                    "WHERE task_name = 'harvest.backup' AND status = 'todo'"
                )
            ).scalar_one()
            == 1
        )
    first = run_backup_job(nightly)  # what the job runs
    second = run_backup_job(nightly)
    _, backups = list_backups(nightly)
    assert [b.id for b in backups] == [second]  # both today: prune kept the newest of the day
    assert backups[0].manifest is not None and backups[0].manifest.trigger == "schedule" and first != second
