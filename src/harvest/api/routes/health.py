"""GET /api/health: is the database answering, what is stored, which model search uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import text

from harvest import __version__
from harvest.api.auth import settings_of
from harvest.api.schemas import Health
from harvest.backup import backup_status
from harvest.db.engine import describe_url, get_engine
from harvest.embeddings.store import active_model

router = APIRouter(prefix="/api", tags=["health"])
_COUNTS = {
    "sources": "sources",
    "pages": "pages",
    "documents": "documents",
    "chunks": "chunks",
    "vectors": "chunk_embeddings",
}


@router.get("/health", response_model=Health)
def health(
    request: Request,
    deep: Annotated[bool, Query(description="also write/read the raw and object stores")] = False,
) -> Health:
    """Open to everyone (load balancers, `harvest up`); shows counts and the last backup, never content.
    `status` is `degraded` while the last backup failed."""
    settings = settings_of(request)
    engine = get_engine(settings)
    with engine.connect() as conn:
        # estimates from the planner's statistics: constant time however large the tables are
        counts = {
            name: max(
                int(
                    conn.execute(
                        text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}
                    ).scalar()
                    or 0
                ),
                0,
            )
            for name, table in _COUNTS.items()
        }
        model = active_model(conn)
    stores: list[dict[str, str]] = []
    if deep:
        from harvest.health import check_stack

        stores = [
            {"name": s.name, "backend": s.backend, "detail": s.detail} for s in check_stack(settings).stores
        ]
    backup = backup_status(settings)
    return Health(
        # a failed (or killed) last backup is degraded service: data written since is not safe
        status="degraded" if backup.status == "failed" else "ok",
        backup=backup.to_json(),
        version=__version__,
        database=describe_url(engine.url),
        active_model=model[1] if model else None,
        counts=counts,
        stores=stores,
    )
