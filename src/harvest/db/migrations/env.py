"""Alembic environment: runs on the connection handed over by `harvest.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from harvest.db.models import Base

target_metadata = Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # per-model HNSW indexes are created at run time by the embed stage, not by migrations
    return not (type_ == "index" and (name or "").startswith("ix_chunk_embeddings_hnsw_"))


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `harvest db upgrade` (it provides the connection)")
run_migrations(connection)
