"""recrawl schedule: per-page revisit interval and due time, not-due count and full flag on runs

Revision ID: 0015
Revises: 0011
Create Date: 2026-11-25 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("pages", sa.Column("revisit_interval_s", sa.Integer(), nullable=True))
    op.add_column("pages", sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("crawl_runs", sa.Column("pages_not_due", sa.Integer(), server_default="0", nullable=False))
    op.add_column("crawl_runs", sa.Column("full", sa.Boolean(), server_default="false", nullable=False))


def downgrade() -> None:
    op.drop_column("crawl_runs", "full")
    op.drop_column("crawl_runs", "pages_not_due")
    op.drop_column("pages", "next_due_at")
    op.drop_column("pages", "revisit_interval_s")
