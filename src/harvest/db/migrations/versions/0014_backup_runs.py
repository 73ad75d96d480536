"""backup runs

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "backup_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("backup_id", sa.String(length=40), nullable=True),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("trigger", sa.String(length=16), server_default="manual", nullable=False),
        sa.Column("status", sa.String(length=16), server_default="running", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'interrupted')", name=op.f("ck_backup_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup_runs")),
    )
    op.create_index(op.f("ix_backup_runs_status"), "backup_runs", ["status"], unique=False)
    op.execute(
        "CREATE TRIGGER backup_runs_updated_at BEFORE UPDATE ON backup_runs "
        "FOR EACH ROW EXECUTE FUNCTION harvest_set_updated_at()"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_backup_runs_status"), table_name="backup_runs")
    op.drop_table("backup_runs")
