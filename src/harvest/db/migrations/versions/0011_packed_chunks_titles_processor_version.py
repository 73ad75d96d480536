"""packed chunks: chunk titles in the full-text vector (title A, heading path B, text D), documents'
processor version (older documents are processed again: re-extracted and re-chunked)

Revision ID: 0011
Revises: 0014
Create Date: 2026-11-25 15:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TITLE_VECTOR_SQL = (
    "setweight(to_tsvector(search_config, coalesce(title, '')), 'A') || "
    "setweight(to_tsvector(search_config, coalesce(heading, '')), 'B') || "
    "setweight(to_tsvector(search_config, text), 'D')"
)
HEADING_VECTOR_SQL = (
    "setweight(to_tsvector(search_config, coalesce(heading, '')), 'A') || "
    "setweight(to_tsvector(search_config, text), 'B')"
)


def _replace_search_vector(expression: str) -> None:
    op.drop_index("ix_chunks_search_vector", table_name="chunks", postgresql_using="gin")
    op.drop_column("chunks", "search_vector")
    op.add_column(
        "chunks",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(expression, persisted=True),
            nullable=True,
        ),
    )
    op.create_index("ix_chunks_search_vector", "chunks", ["search_vector"], postgresql_using="gin")


def upgrade() -> None:
    # Existing documents keep version 1 and are processed again by the next `harvest process`; their
    # old chunks (and vectors) stay searchable until then.
    op.add_column(
        "documents", sa.Column("processor_version", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("chunks", sa.Column("title", sa.Text(), nullable=True))
    _replace_search_vector(TITLE_VECTOR_SQL)


def downgrade() -> None:
    _replace_search_vector(HEADING_VECTOR_SQL)
    op.drop_column("chunks", "title")
    op.drop_column("documents", "processor_version")
