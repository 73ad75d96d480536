"""/api/pipelines and POST /api/sources/{name}/run: pipeline runs on the task queue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from harvest.api.auth import require_read, require_write, settings_of
from harvest.api.schemas import Pipeline
from harvest.crawl.sources import source_id
from harvest.db.engine import get_engine
from harvest.jobs.pipeline import PipelineView, cancel_pipeline, get_pipeline, list_pipelines, start_pipeline

router = APIRouter(tags=["pipelines"])
RunId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def pipeline_json(view: PipelineView) -> dict[str, Any]:
    return {
        "id": view.id,
        "source": view.source,
        "status": view.status,
        "trigger": view.trigger,
        "created_at": view.created_at.isoformat(),
        "started_at": view.started_at.isoformat() if view.started_at else None,
        "finished_at": view.finished_at.isoformat() if view.finished_at else None,
        "message": view.message,
        "stages": [
            {
                "stage": s.stage,
                "status": s.status,
                "attempts": s.attempts,
                "elapsed_s": round(s.elapsed_s, 3),
                "counts": s.counts,
                "message": s.message,
            }
            for s in view.stages
        ],
    }


@router.post(
    "/api/sources/{name}/run",
    status_code=202,
    dependencies=[Depends(require_write)],
    tags=["sources"],
    response_model=Pipeline,
)
def run_source(
    request: Request, name: Annotated[str, Path(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._-]+$")]
) -> dict[str, Any]:
    """Queue the source's pipeline (crawl → process → entities → embed), or return the waiting one."""
    return pipeline_json(start_pipeline(settings_of(request), name, trigger="api"))


@router.get("/api/pipelines", dependencies=[Depends(require_read)], response_model=list[Pipeline])
def pipelines(
    request: Request,
    source: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 20,
) -> list[dict[str, Any]]:
    engine = get_engine(settings_of(request))
    if source is not None:
        source_id(engine, source)
    return [pipeline_json(view) for view in list_pipelines(engine, source, limit)]


@router.get("/api/pipelines/{run_id}", dependencies=[Depends(require_read)], response_model=Pipeline)
def pipeline(request: Request, run_id: RunId) -> dict[str, Any]:
    return pipeline_json(get_pipeline(get_engine(settings_of(request)), run_id))


@router.post("/api/pipelines/{run_id}/cancel", dependencies=[Depends(require_write)], response_model=Pipeline)
def cancel(request: Request, run_id: RunId) -> dict[str, Any]:
    """Cancel: waiting stages are dropped, a running stage stops at its next checkpoint."""
    return pipeline_json(cancel_pipeline(settings_of(request), run_id))
