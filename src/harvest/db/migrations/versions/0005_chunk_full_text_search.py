"""chunk full-text search: per-language configuration, generated tsvector, GIN index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 06:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from harvest.search.text_config import language_case_sql

# the expression as this revision made it (models.SEARCH_VECTOR_SQL is today's, see 0011)
SEARCH_VECTOR_SQL = (
    "setweight(to_tsvector(search_config, coalesce(heading, '')), 'A') || "
    "setweight(to_tsvector(search_config, text), 'B')"
)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "chunks",
        sa.Column(
            "search_config",
            postgresql.REGCONFIG(),
            server_default=sa.text("'simple'::regconfig"),
            nullable=False,
        ),
    )
    op.execute(
        f"UPDATE chunks SET search_config = {language_case_sql('d.language')} "
        "FROM documents d WHERE d.id = chunks.document_id AND d.language IS NOT NULL"
    )
    op.add_column(
        "chunks",
        sa.Column(
            "search_vector",
            postgresql.TSVECTOR(),
            sa.Computed(SEARCH_VECTOR_SQL, persisted=True),
            nullable=True,
        ),
    )
    op.create_index("ix_chunks_search_vector", "chunks", ["search_vector"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_chunks_search_vector", table_name="chunks", postgresql_using="gin")
    op.drop_column("chunks", "search_vector")
    op.drop_column("chunks", "search_config")
