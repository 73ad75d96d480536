"""The migrated schema, against the real embedded PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from harvest.db.engine import get_engine
from harvest.db.migrate import current_revision, head_revision, upgrade
from harvest.db.models import Base
from harvest.db.schema_scope import include_object
from harvest.settings import Settings


def test_migrated_schema_equals_the_models(db_settings: Settings) -> None:
    engine = get_engine(db_settings)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object}),
            Base.metadata,
        )
    assert diff == []


def test_extensions_are_enabled_by_migration(db_settings: Settings) -> None:
    with get_engine(db_settings).connect() as conn:
        names = set(conn.execute(text("SELECT extname FROM pg_extension")).scalars())
    assert {"vector", "pg_trgm", "fuzzystrmatch"} <= names


def test_upgrade_is_idempotent_and_at_head(db_settings: Settings) -> None:
    engine = get_engine(db_settings)
    assert upgrade(engine) == head_revision()
    assert upgrade(engine) == head_revision()
    assert current_revision(engine) == head_revision()


def test_updated_at_moves_on_any_update(db_settings: Settings) -> None:
    with get_engine(db_settings).begin() as conn:
        created, updated = conn.execute(
            text("INSERT INTO sources (name) VALUES ('ts') RETURNING created_at, updated_at")
        ).one()
    time.sleep(0.01)
    with get_engine(db_settings).begin() as conn:
        later = conn.execute(
            text("UPDATE sources SET max_pages = 5 WHERE name = 'ts' RETURNING updated_at")
        ).scalar_one()
    assert created == updated
    assert later > updated


def test_vector_type_works(db_settings: Settings) -> None:
    with get_engine(db_settings).connect() as conn:
        distance = conn.execute(text("SELECT '[1,0,0]'::vector <=> '[0,1,0]'::vector")).scalar_one()
        similarity = conn.execute(text("SELECT similarity('harvest', 'harvets')")).scalar_one()
    assert distance == 1.0
    assert 0 < similarity < 1


def test_the_embedded_server_gets_the_shared_buffers_asked_for_and_keeps_them(tmp_path: Path) -> None:
    from harvest.db.embedded import EmbeddedPostgres, machine_shared_buffers_mb

    def shared_buffers(server: EmbeddedPostgres) -> str:
        state = server.state()
        with psycopg.connect(state.uri("postgres"), autocommit=True) as conn:
            row = conn.execute("SHOW shared_buffers").fetchone()
        assert row is not None
        return str(row[0])

    server = EmbeddedPostgres(tmp_path / "data", shared_buffers_mb=192)
    try:
        first = server.start()
        assert shared_buffers(server) == "192MB"  # a new data directory's first start
        assert server.start().pid == first.pid  # running: left alone
        assert server.stop()
        pid = EmbeddedPostgres(tmp_path / "data", shared_buffers_mb=192).start().pid
        assert shared_buffers(server) == "192MB"  # kept in the data directory, no restart needed
        assert "shared_buffers" in (tmp_path / "data" / "postgres" / "postgresql.auto.conf").read_text()
        assert server.stop()
        resized = EmbeddedPostgres(tmp_path / "data", shared_buffers_mb=160)
        assert resized.start().pid != pid
        assert shared_buffers(resized) == "160MB"
    finally:
        server.stop()
    assert 128 <= machine_shared_buffers_mb() <= 1024
