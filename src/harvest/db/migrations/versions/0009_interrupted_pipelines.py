"""pipelines and stages can be `interrupted` (a worker shut down under them; they resume)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 16:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_RUN = "('queued', 'running', 'succeeded', 'failed', 'cancelled')"
_NEW_RUN = "('queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')"
_OLD_STAGE = "('pending', 'queued', 'running', 'succeeded', 'failed', 'cancelled')"
_NEW_STAGE = "('pending', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')"


def _recheck(table: str, statuses: str) -> None:
    op.drop_constraint(op.f(f"ck_{table}_status"), table, type_="check")
    op.create_check_constraint(op.f(f"ck_{table}_status"), table, f"status IN {statuses}")


def upgrade() -> None:
    _recheck("pipeline_runs", _NEW_RUN)
    _recheck("pipeline_stages", _NEW_STAGE)


def downgrade() -> None:
    # an interrupted pipeline resumes as queued; its stage waits for its job like any queued stage
    op.execute("UPDATE pipeline_stages SET status = 'queued' WHERE status = 'interrupted'")
    op.execute("UPDATE pipeline_runs SET status = 'queued' WHERE status = 'interrupted'")
    _recheck("pipeline_runs", _OLD_RUN)
    _recheck("pipeline_stages", _OLD_STAGE)
