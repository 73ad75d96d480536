"""The FastAPI application: routers, auth, CORS, and the one error mapping."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from harvest import __version__
from harvest.api.errors import install_error_handlers
from harvest.api.routes import documents, entities, health, pipelines, runs, search, sources
from harvest.api.schemas import ErrorResponse
from harvest.api.ui import mount_ui
from harvest.db.engine import get_engine
from harvest.search.engine import Searcher
from harvest.settings import Settings

_ERRORS = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in {
        401: "missing or wrong bearer token",
        404: "no such thing",
        409: "conflicts with the current state",
        422: "invalid input",
        503: "a store or the embeddings service is unavailable",
    }.items()
}


def create_app(settings: Settings, *, connect: bool = True) -> FastAPI:
    """The API (and the built web UI at /). `connect=False` builds it without touching the database
    (e.g. to write out its OpenAPI schema); the search engine then connects on first use."""
    app = FastAPI(
        title="Harvest API",
        version=__version__,
        description="Search, documents, sources and crawl runs of a Harvest installation. Writes need "
        "`Authorization: Bearer <HARVEST_API_TOKEN>`; reads too unless HARVEST_API_PUBLIC_READS=true.",
        responses=_ERRORS,  # type: ignore[arg-type]
    )
    app.state.settings = settings
    app.state.searcher = Searcher(settings, get_engine(settings)) if connect else None
    if settings.api_cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    install_error_handlers(app)
    for module in (health, search, documents, sources, runs, pipelines, entities):
        app.include_router(module.router)
    mount_ui(app)  # last: its fallback route answers only what no API route did
    return app
