"""GET /api/health: is the API ready, is the database answering, what is stored, which model search uses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import SQLAlchemyError

from harvest import __version__
from harvest.api.auth import bearer, settings_of, token_valid
from harvest.api.schemas import Health
from harvest.api.warmup import ModelLoader
from harvest.backup import backup_status
from harvest.db.engine import describe_url, get_engine
from harvest.db.status import table_counts
from harvest.embeddings.store import active_model
from harvest.errors import HarvestError, StoreUnavailableError

router = APIRouter(prefix="/api", tags=["health"])


class TokenNeededError(HarvestError):
    """`deep=true` writes to the stores: it needs the token even though health is open."""

    exit_code = 2
    http_status = 401


@router.get("/health", response_model=Health)
async def health(
    request: Request,
    deep: Annotated[
        bool, Query(description="also write/read the raw and object stores (needs the bearer token)")
    ] = False,
) -> Health:
    """Open to everyone (load balancers, `harvest up`): readiness, counts and the last backup, never
    content. `status` is `degraded` while the last backup failed. With the bearer token it also says where
    the database is."""
    from starlette.concurrency import run_in_threadpool

    credentials: HTTPAuthorizationCredentials | None = await bearer(request)
    authorized = token_valid(credentials, settings_of(request))
    if deep and not authorized:
        raise TokenNeededError("deep=true probes the stores by writing to them: it needs the bearer token")
    return await run_in_threadpool(_health, request, authorized, deep)


def _health(request: Request, authorized: bool, deep: bool) -> Health:
    settings = settings_of(request)
    try:
        engine = get_engine(settings)
        with engine.connect() as conn:
            counts, estimated = table_counts(conn)
            model = active_model(conn)
    except SQLAlchemyError as error:  # a stopped or unreachable database: 503, not a crash
        raise StoreUnavailableError("the database is not answering") from error
    loader: ModelLoader | None = getattr(request.app.state, "model_loader", None)
    loaded = loader is not None and loader.ready_for(model[1] if model else None)
    stores: list[dict[str, Any]] = []
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
        ready=loaded,
        model_loaded=loaded,
        database=describe_url(engine.url) if authorized else None,
        instance=settings.database_identity if authorized else None,
        active_model=model[1] if model else None,
        counts=counts,
        estimated=estimated,
        stores=stores,
    )
