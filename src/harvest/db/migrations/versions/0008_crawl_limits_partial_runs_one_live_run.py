"""crawl: trap limits per source, `partial` runs and the limits a run hit, one live run per source

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')"
NEW_STATUSES = "status IN ('queued', 'running', 'succeeded', 'partial', 'failed', 'cancelled', 'interrupted')"
LIMITS = {
    "max_url_length": "> 0",
    "max_path_repeats": "> 0",
    "max_query_variants": "> 0",
    "max_years_ahead": ">= 0",
}


def upgrade() -> None:
    for column, check in LIMITS.items():
        op.add_column("sources", sa.Column(column, sa.Integer(), nullable=True))
        op.create_check_constraint(
            op.f(f"ck_sources_{column}"), "sources", f"{column} IS NULL OR {column} {check}"
        )
    op.add_column(
        "crawl_runs",
        sa.Column("limits", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
    )
    op.drop_constraint(op.f("ck_crawl_runs_status"), "crawl_runs", type_="check")
    op.create_check_constraint(op.f("ck_crawl_runs_status"), "crawl_runs", NEW_STATUSES)
    # Before the index can exist, at most one live run per source may remain: older duplicates (from
    # the race this index closes) are closed as interrupted.
    op.execute(
        "UPDATE crawl_runs r SET status = 'interrupted', finished_at = coalesce(r.heartbeat_at, now()), "
        "message = 'closed by an upgrade: another run of this source was live' "
        "WHERE r.status IN ('queued', 'running') AND EXISTS (SELECT 1 FROM crawl_runs o WHERE "
        "o.source_id = r.source_id AND o.status IN ('queued', 'running') AND o.id > r.id)"
    )
    op.create_index(
        "uq_crawl_runs_one_live_per_source",
        "crawl_runs",
        ["source_id"],
        unique=True,
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )


def downgrade() -> None:
    op.drop_index("uq_crawl_runs_one_live_per_source", table_name="crawl_runs")
    op.execute("UPDATE crawl_runs SET status = 'succeeded' WHERE status = 'partial'")
    op.drop_constraint(op.f("ck_crawl_runs_status"), "crawl_runs", type_="check")
    op.create_check_constraint(op.f("ck_crawl_runs_status"), "crawl_runs", OLD_STATUSES)
    op.drop_column("crawl_runs", "limits")
    for column in LIMITS:
        op.drop_constraint(op.f(f"ck_sources_{column}"), "sources", type_="check")
        op.drop_column("sources", column)
