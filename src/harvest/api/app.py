"""The FastAPI application: routers, auth, CORS, the one error mapping, and docs served from local files."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

from harvest import __version__
from harvest.api.errors import install_error_handlers
from harvest.api.limits import BodyLimit
from harvest.api.routes import documents, entities, health, pipelines, runs, search, sources
from harvest.api.routes import train as train_routes
from harvest.api.schemas import ErrorResponse
from harvest.api.strict import refuse_unknown_query
from harvest.api.warmup import ModelLoader
from harvest.db.engine import get_engine
from harvest.search.engine import Searcher
from harvest.settings import Settings
from harvest.train.inference import Predictor

_ERRORS = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        401: "missing or wrong bearer token",
        404: "no such thing",
        409: "conflicts with the current state",
        413: "the request body is over HARVEST_API_MAX_BODY_MB",
        422: "invalid input (including query parameters the endpoint does not take)",
        429: "too many requests from this client (see the Retry-After header)",
        503: "a store or the embeddings service is unavailable",
    }.items()
}


def create_app(settings: Settings, *, load_model: bool = True) -> FastAPI:
    """The API on `settings`' stores. With `load_model`, the query model is loaded when the app starts
    (and follows the active model), so no search waits for it."""
    searcher = Searcher(settings, get_engine(settings))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loader = ModelLoader(searcher) if load_model else None
        app.state.model_loader = loader
        if loader is not None:
            loader.start()
        try:
            yield
        finally:
            if loader is not None:
                loader.stop()

    # Swagger UI and ReDoc from the files of a pinned package: /docs works on machines without internet.
    app = FastAPIOffline(
        title="Harvest API",
        version=__version__,
        description="Search, documents, sources, crawl and pipeline runs, entities of a Harvest install. "
        "Writes need `Authorization: Bearer <HARVEST_API_TOKEN>`; reads too unless HARVEST_API_PUBLIC_READS "
        "is true. Every collection answers with the same envelope: `items`, `total` (null when not "
        "counted), `limit`, `offset`, `next_offset` (null on the last page). Unknown query parameters are "
        "refused with 422.",
        responses=_ERRORS,
        dependencies=[Depends(refuse_unknown_query)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.searcher = searcher
    app.state.model_loader = None
    app.state.predictor = Predictor(settings)
    # added first, so it runs inside CORS: a 413 still carries the CORS headers a browser needs
    app.add_middleware(BodyLimit, max_bytes=int(settings.api_max_body_mb * 1024 * 1024))
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    install_error_handlers(app)
    for module in (health, search, documents, sources, runs, pipelines, entities, train_routes):
        app.include_router(module.router)
    return app
