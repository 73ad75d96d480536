"""/api/sources: list, read, create, change, remove a source, and start a crawl of it."""

from __future__ import annotations

import logging
import threading
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response

from harvest.api.auth import require_read, require_write, settings_of
from harvest.api.limits import rate_limit
from harvest.api.schemas import CrawlStarted, Page, SourceChanges, SourceOut, SourceSaved, page_of
from harvest.crawl.runner import run_crawl
from harvest.crawl.runs import create_run
from harvest.crawl.sources import (
    add_source,
    edit_source,
    get_source,
    list_sources,
    remove_source,
    url_warnings_of,
)
from harvest.crawl.spec import SourceSpec
from harvest.db.engine import get_engine

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/sources", tags=["sources"])
SourceName = Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]
EXAMPLE = {"name": "blog", "start_urls": ["https://blog.example.org/"], "max_pages": 500}


@router.get("", response_model=Page[SourceOut], dependencies=[Depends(require_read)])
def sources(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[SourceSpec]:
    every = list_sources(get_engine(settings_of(request)))
    return page_of(every[offset : offset + limit], limit=limit, offset=offset, total=len(every))


@router.get("/{name}", response_model=SourceOut, dependencies=[Depends(require_read)])
def source(request: Request, name: SourceName) -> SourceSpec:
    return get_source(get_engine(settings_of(request)), name)


@router.post("", status_code=201, response_model=SourceSaved, dependencies=[Depends(require_write)])
def create(request: Request, spec: Annotated[SourceSpec, Body(examples=[EXAMPLE])]) -> SourceSaved:
    """Add a source (the fields of `sources.yaml`); nothing is stored unless all of it is valid.
    `warnings` lists start or sitemap URLs the crawler will refuse (non-public addresses) or cannot
    resolve from here."""
    settings = settings_of(request)
    added = add_source(get_engine(settings), spec)
    return _saved(added, url_warnings_of(added, settings.crawl_allowed_hosts))


@router.patch("/{name}", response_model=SourceSaved, dependencies=[Depends(require_write)])
def change(
    request: Request,
    name: SourceName,
    changes: Annotated[SourceChanges, Body(examples=[{"max_pages": 1000, "schedule": "0 3 * * *"}])],
) -> SourceSaved:
    """Change some fields; the result must be a valid source or nothing changes. `warnings` as for
    POST, about the URLs the change sets."""
    settings = settings_of(request)
    given: dict[str, Any] = changes.model_dump(exclude_unset=True)
    for field, value in list(given.items()):
        if value is None:  # null: back to the default (e.g. no schedule)
            given[field] = SourceSpec.model_fields[field].get_default(call_default_factory=True)
    edited = edit_source(get_engine(settings), name, given)
    urls_changed = {"start_urls", "sitemap_urls"} & set(given)
    return _saved(edited, url_warnings_of(edited, settings.crawl_allowed_hosts) if urls_changed else [])


def _saved(spec: SourceSpec, warnings: list[str]) -> SourceSaved:
    return SourceSaved.model_validate(spec.model_dump() | {"warnings": warnings})


@router.delete("/{name}", status_code=204, dependencies=[Depends(require_write)])
def delete(request: Request, name: SourceName) -> Response:
    remove_source(get_engine(settings_of(request)), name)
    return Response(status_code=204)


@router.post(
    "/{name}/crawl",
    status_code=202,
    response_model=CrawlStarted,
    dependencies=[Depends(require_write), Depends(rate_limit("crawl"))],
)
def crawl(request: Request, name: SourceName, full: bool = False) -> CrawlStarted:
    """Start a crawl run now; follow it at /api/runs/{run_id}. 409 while one is running. A recrawl asks
    only for pages that are due; `?full=true` revalidates every known page."""
    settings = settings_of(request)
    run_id = create_run(get_engine(settings), name, full=full)

    def follow() -> None:
        try:
            run_crawl(settings, name, run_id=run_id)
        except Exception:  # the run row records the failure; the API stays up
            logger.exception("crawl run %s of %s failed", run_id, name)

    threading.Thread(target=follow, name=f"crawl-{run_id}", daemon=True).start()
    return CrawlStarted(run_id=run_id, source=name, status="queued")
