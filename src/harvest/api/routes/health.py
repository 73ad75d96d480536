"""GET /api/health: is the database answering, what is stored, which model search uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy import Connection, text

from harvest import __version__
from harvest.api.auth import settings_of
from harvest.api.schemas import Health
from harvest.db.engine import describe_url, get_engine
from harvest.embeddings.store import active_model

router = APIRouter(prefix="/api", tags=["health"])
_COUNTS = {
    "sources": "sources",
    "pages": "pages",
    "documents": "documents",
    "chunks": "chunks",
    "vectors": "chunk_embeddings",
    "entities": "entities",
}
EXACT_BELOW = 100_000


def _count(conn: Connection, table: str) -> int:
    """The planner's estimate (constant time however large the table); exact while the table is small,
    where the estimate lags behind (no ANALYZE yet) and counting is cheap."""
    estimate = conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}).scalar()
    if estimate is not None and estimate >= EXACT_BELOW:
        return int(estimate)
    return int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())


@router.get("/health", response_model=Health)
def health(
    request: Request,
    deep: Annotated[bool, Query(description="also write/read the raw and object stores")] = False,
) -> Health:
    """Open to everyone (load balancers, `harvest up`); shows counts, never content."""
    settings = settings_of(request)
    engine = get_engine(settings)
    with engine.connect() as conn:
        counts = {name: _count(conn, table) for name, table in _COUNTS.items()}
        model = active_model(conn)
    stores: list[dict[str, str]] = []
    if deep:
        from harvest.health import check_stack

        stores = [
            {"name": s.name, "backend": s.backend, "detail": s.detail} for s in check_stack(settings).stores
        ]
    return Health(
        status="ok",
        version=__version__,
        database=describe_url(engine.url),
        active_model=model[1] if model else None,
        counts=counts,
        stores=stores,
    )
