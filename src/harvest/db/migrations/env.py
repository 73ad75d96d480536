"""Alembic environment: runs on the connection handed over by `harvest.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from harvest.db.models import Base
from harvest.db.schema_scope import include_object

target_metadata = Base.metadata


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
