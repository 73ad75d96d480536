"""crawl runs count pages that are gone (404/410)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("crawl_runs", sa.Column("pages_gone", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("crawl_runs", "pages_gone")
