"""/api/sources: list, read, create, change, remove a source, and start a crawl of it."""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response

from harvest.api.auth import require_read, require_write, settings_of
from harvest.api.schemas import CrawlStarted
from harvest.crawl.runner import run_crawl
from harvest.crawl.runs import create_run
from harvest.crawl.sources import add_source, edit_source, get_source, list_sources, remove_source
from harvest.crawl.spec import SourceSpec, parse_spec
from harvest.db.engine import get_engine

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/sources", tags=["sources"])
SourceName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]


def _json(spec: SourceSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json")


@router.get("", dependencies=[Depends(require_read)], response_model=list[SourceSpec])
def sources(request: Request) -> list[dict[str, Any]]:
    return [_json(spec) for spec in list_sources(get_engine(settings_of(request)))]


@router.get("/{name}", dependencies=[Depends(require_read)], response_model=SourceSpec)
def source(request: Request, name: SourceName) -> dict[str, Any]:
    return _json(get_source(get_engine(settings_of(request)), name))


@router.post("", status_code=201, dependencies=[Depends(require_write)], response_model=SourceSpec)
def create(
    request: Request,
    spec: Annotated[
        dict[str, Any], Body(examples=[{"name": "blog", "start_urls": ["https://example.org/"]}])
    ],
) -> dict[str, Any]:
    """Add a source (the fields of `harvest source add` / sources.yaml)."""
    return _json(add_source(get_engine(settings_of(request)), parse_spec(spec)))


@router.patch("/{name}", dependencies=[Depends(require_write)], response_model=SourceSpec)
def change(request: Request, name: SourceName, changes: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Change some fields; the result must be a valid source or nothing changes."""
    return _json(edit_source(get_engine(settings_of(request)), name, changes))


@router.delete("/{name}", status_code=204, dependencies=[Depends(require_write)])
def delete(request: Request, name: SourceName) -> Response:
    remove_source(get_engine(settings_of(request)), name)
    return Response(status_code=204)


@router.post(
    "/{name}/crawl", status_code=202, response_model=CrawlStarted, dependencies=[Depends(require_write)]
)
def crawl(request: Request, name: SourceName) -> CrawlStarted:
    """Start a crawl run now; follow it at /api/runs/{run_id}. 409 while one is running."""
    settings = settings_of(request)
    run_id = create_run(get_engine(settings), name)

    def follow() -> None:
        try:
            run_crawl(settings, name, run_id=run_id)
        except Exception:  # the run row records the failure; the API stays up
            logger.exception("crawl run %s of %s failed", run_id, name)

    threading.Thread(target=follow, name=f"crawl-{run_id}", daemon=True).start()
    return CrawlStarted(run_id=run_id, source=name, status="queued")
