"""/api/runs: crawl runs with their counts and errors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from harvest.api.auth import require_read, settings_of
from harvest.api.schemas import Page, Run, page_from
from harvest.crawl.runs import RunView, count_runs, get_run, list_runs
from harvest.crawl.sources import source_id
from harvest.db.engine import get_engine

router = APIRouter(prefix="/api/runs", tags=["runs"], dependencies=[Depends(require_read)])


def _run(view: RunView) -> Run:
    return Run(
        id=view.id,
        source=view.source,
        status=view.status,
        started_at=view.started_at,
        finished_at=view.finished_at,
        elapsed_s=round(view.elapsed_s, 3),
        counts=view.counts,
        message=view.message,
        errors=[{"url": url, "reason": reason} for url, reason in view.errors],
        limits=view.limits,
    )


@router.get("", response_model=Page[Run])
def runs(
    request: Request,
    source: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[Run]:
    """Crawl runs, newest first."""
    engine = get_engine(settings_of(request))
    if source is not None:
        source_id(engine, source)
    return page_from(
        lambda n, skip: [_run(view) for view in list_runs(engine, source, n, skip)],
        limit=limit,
        offset=offset,
        total=count_runs(engine, source),
    )


@router.get("/{run_id}", response_model=Run)
def run(
    request: Request,
    run_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    errors: Annotated[int, Query(ge=0, le=1000, description="how many page errors to include")] = 50,
) -> Run:
    return _run(get_run(get_engine(settings_of(request)), run_id, error_limit=errors))
