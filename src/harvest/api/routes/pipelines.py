"""/api/pipelines and POST /api/sources/{name}/run: pipeline runs on the task queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from harvest.api.auth import require_read, require_write, settings_of
from harvest.api.limits import rate_limit
from harvest.api.schemas import Page, Pipeline, PipelineStage, page_from
from harvest.crawl.sources import source_id
from harvest.db.engine import get_engine
from harvest.jobs.pipeline import (
    PipelineView,
    cancel_pipeline,
    count_pipelines,
    get_pipeline,
    list_pipelines,
    start_pipeline,
)

router = APIRouter(tags=["pipelines"])
RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def pipeline_json(view: PipelineView) -> Pipeline:
    return Pipeline(
        id=view.id,
        source=view.source,
        status=view.status,
        trigger=view.trigger,
        created_at=view.created_at,
        started_at=view.started_at,
        finished_at=view.finished_at,
        message=view.message,
        stages=[
            PipelineStage(
                stage=s.stage,
                status=s.status,
                attempts=s.attempts,
                elapsed_s=round(s.elapsed_s, 3),
                counts=s.counts,
                message=s.message,
            )
            for s in view.stages
        ],
    )


@router.post(
    "/api/sources/{name}/run",
    status_code=202,
    response_model=Pipeline,
    dependencies=[Depends(require_write), Depends(rate_limit("run"))],
    tags=["sources"],
)
def run_source(
    request: Request, name: Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]
) -> Pipeline:
    """Queue the source's pipeline (crawl → process → entities → embed), or return the waiting one."""
    return pipeline_json(start_pipeline(settings_of(request), name, trigger="api"))


@router.get("/api/pipelines", response_model=Page[Pipeline], dependencies=[Depends(require_read)])
def pipelines(
    request: Request,
    source: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[Pipeline]:
    """Pipeline runs, newest first."""
    engine = get_engine(settings_of(request))
    if source is not None:
        source_id(engine, source)
    return page_from(
        lambda n, skip: [pipeline_json(view) for view in list_pipelines(engine, source, n, skip)],
        limit=limit,
        offset=offset,
        total=count_pipelines(engine, source),
    )


@router.get("/api/pipelines/{run_id}", response_model=Pipeline, dependencies=[Depends(require_read)])
def pipeline(request: Request, run_id: RunId) -> Pipeline:
    return pipeline_json(get_pipeline(get_engine(settings_of(request)), run_id))


@router.post("/api/pipelines/{run_id}/cancel", response_model=Pipeline, dependencies=[Depends(require_write)])
def cancel(request: Request, run_id: RunId) -> Pipeline:
    """Cancel: waiting stages are dropped, a running stage stops at its next checkpoint."""
    return pipeline_json(cancel_pipeline(settings_of(request), run_id))
