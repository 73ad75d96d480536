"""Pipelines: the only place that knows the order of the stages. A pipeline run has one row per stage;
finishing a stage queues the next one; the rows say what ran, when, how often and with what counts."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from harvest.db.engine import get_engine
from harvest.db.models import PipelineRun, PipelineStage, Source
from harvest.errors import InvalidInputError, NotFoundError
from harvest.settings import Settings

logger = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("crawl", "process", "entities", "embed")
OPTIONAL_STAGES: tuple[str, ...] = ("train", "predict")  # after embed, for sources that opt in
STAGE_TASK = "harvest.stage"
LIVE = ("queued", "running")


@dataclass(frozen=True)
class StageView:
    stage: str
    status: str
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, Any]
    message: str | None
    job_id: int | None

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return ((self.finished_at or datetime.now(UTC)) - self.started_at).total_seconds()


@dataclass(frozen=True)
class PipelineView:
    id: int
    source: str
    status: str
    trigger: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    message: str | None
    stages: list[StageView]

    @property
    def done(self) -> bool:
        return self.status not in LIVE


def stages_for(session: Session, source_id: int) -> list[str]:
    """The fixed stages, then the optional ones the source opted into (`harvest pipelines add-stage`)."""
    from harvest.db.models import PipelineMlStage

    extra = set(session.scalars(select(PipelineMlStage.stage).where(PipelineMlStage.source_id == source_id)))
    return [*STAGES, *(stage for stage in OPTIONAL_STAGES if stage in extra)]


def stage_lock(stage: str, source: str) -> str:
    """Jobs sharing a lock never run at the same time: one crawl per source; processing, entities and
    embedding one at a time (each works on every source's new items)."""
    return f"crawl:{source}" if stage == "crawl" else stage


def start_pipeline(settings: Settings, source: str, *, trigger: str = "manual") -> PipelineView:
    """Queue a pipeline run for a source, or return the one already waiting or running for it."""
    from harvest.jobs.queue import defer, sync_queue

    engine = get_engine(settings)
    with Session(engine) as session, session.begin():
        source_row = session.scalar(select(Source).where(Source.name == source).with_for_update())
        if source_row is None:
            raise NotFoundError(f"no source named {source!r}", hint="see `harvest source list`")
        live = session.scalar(
            select(PipelineRun.id).where(PipelineRun.source_id == source_row.id, PipelineRun.status.in_(LIVE))
        )
        if live is not None:
            return get_pipeline(engine, live)
        run = PipelineRun(source_id=source_row.id, trigger=trigger, status="queued")
        session.add(run)
        session.flush()
        for position, stage in enumerate(stages_for(session, source_row.id)):
            session.add(
                PipelineStage(
                    pipeline_run_id=run.id,
                    stage=stage,
                    position=position,
                    status="queued" if position == 0 else "pending",
                )
            )
        run_id = run.id
    try:
        with sync_queue(settings) as queue:
            job_id = defer(
                queue, STAGE_TASK, lock=stage_lock(STAGES[0], source), pipeline_run_id=run_id, stage=STAGES[0]
            )
    except Exception as error:
        _finish(engine, run_id, "failed", f"could not queue the first stage: {error}")
        raise
    _set_job(engine, run_id, STAGES[0], job_id)
    return get_pipeline(engine, run_id)


def queue_next(settings: Settings, run_id: int, finished_stage: str) -> str | None:
    """After `finished_stage` succeeded: queue the stage after it (once, even if called twice), or mark
    the pipeline succeeded. Returns the queued stage."""
    from harvest.jobs.queue import defer, sync_queue

    engine = get_engine(settings)
    with engine.connect() as conn:
        order = list(
            conn.execute(
                select(PipelineStage.stage)
                .where(PipelineStage.pipeline_run_id == run_id)
                .order_by(PipelineStage.position)
            ).scalars()
        )
    position = order.index(finished_stage)
    if position == len(order) - 1:
        _finish(engine, run_id, "succeeded")
        return None
    following = order[position + 1]
    with engine.begin() as conn:
        flipped = conn.execute(
            update(PipelineStage)
            .where(
                PipelineStage.pipeline_run_id == run_id,
                PipelineStage.stage == following,
                PipelineStage.status == "pending",
            )
            .values(status="queued")
            .returning(PipelineStage.id)
        ).first()
        source = conn.execute(
            select(Source.name)
            .join(PipelineRun, PipelineRun.source_id == Source.id)
            .where(PipelineRun.id == run_id)
        ).scalar_one()
    if flipped is None:
        return None  # already queued by an earlier attempt of this stage
    with sync_queue(settings) as queue:
        job_id = defer(
            queue, STAGE_TASK, lock=stage_lock(following, source), pipeline_run_id=run_id, stage=following
        )
    _set_job(engine, run_id, following, job_id)
    return following


def requeue_orphans(settings: Settings, older_than_s: float) -> list[tuple[int, str]]:
    """Stages marked queued without a job (the worker died between the two writes): queue them now."""
    from harvest.jobs.queue import defer, sync_queue

    engine = get_engine(settings)
    cutoff = datetime.now(UTC).timestamp() - older_than_s
    with Session(engine) as session:
        rows = session.execute(
            select(PipelineStage.pipeline_run_id, PipelineStage.stage, Source.name, PipelineRun.updated_at)
            .join(PipelineRun, PipelineRun.id == PipelineStage.pipeline_run_id)
            .join(Source, Source.id == PipelineRun.source_id)
            .where(
                PipelineStage.status == "queued",
                PipelineStage.job_id.is_(None),
                PipelineRun.status.in_(LIVE),
            )
        ).all()
    requeued = []
    for run_id, stage, source, updated_at in rows:
        if updated_at.timestamp() > cutoff:
            continue
        with sync_queue(settings) as queue:
            job_id = defer(
                queue, STAGE_TASK, lock=stage_lock(stage, source), pipeline_run_id=run_id, stage=stage
            )
        _set_job(engine, run_id, stage, job_id)
        requeued.append((run_id, stage))
    return requeued


def cancel_pipeline(settings: Settings, run_id: int) -> PipelineView:
    """Cancel a pipeline: waiting jobs are dropped, a running stage stops at its next checkpoint."""
    from harvest.jobs.queue import sync_queue

    engine = get_engine(settings)
    view = get_pipeline(engine, run_id)
    if view.done:
        raise InvalidInputError(f"pipeline run {run_id} already ended ({view.status})")
    with sync_queue(settings) as queue:
        for stage in view.stages:
            if stage.job_id is not None and stage.status in LIVE:
                queue.job_manager.cancel_job_by_id(stage.job_id, abort=True)
    with engine.begin() as conn:
        conn.execute(
            update(PipelineStage)
            .where(PipelineStage.pipeline_run_id == run_id, PipelineStage.status.in_(("pending", "queued")))
            .values(status="cancelled")
        )
    _finish(engine, run_id, "cancelled", "cancelled by a user")
    return get_pipeline(engine, run_id)


def mark_stage(engine: Engine, run_id: int, stage: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(PipelineStage)
            .where(PipelineStage.pipeline_run_id == run_id, PipelineStage.stage == stage)
            .values(**values)
        )


def mark_running(engine: Engine, run_id: int, stage: str) -> int:
    """Record an attempt of a stage; returns the attempt number (1 = first)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(PipelineRun)
            .where(PipelineRun.id == run_id, PipelineRun.status == "queued")
            .values(status="running", started_at=now)
        )
        attempts = conn.execute(
            update(PipelineStage)
            .where(PipelineStage.pipeline_run_id == run_id, PipelineStage.stage == stage)
            .values(status="running", attempts=PipelineStage.attempts + 1, message=None)
            .returning(PipelineStage.attempts)
        ).scalar_one()
        conn.execute(
            update(PipelineStage)
            .where(
                PipelineStage.pipeline_run_id == run_id,
                PipelineStage.stage == stage,
                PipelineStage.started_at.is_(None),
            )
            .values(started_at=now)
        )
    return int(attempts)


def _finish(engine: Engine, run_id: int, status: str, message: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(PipelineRun)
            .where(PipelineRun.id == run_id, PipelineRun.status.in_(LIVE))
            .values(status=status, finished_at=datetime.now(UTC), message=message)
        )


def fail_pipeline(engine: Engine, run_id: int, message: str) -> None:
    _finish(engine, run_id, "failed", message)


def _set_job(engine: Engine, run_id: int, stage: str, job_id: int) -> None:
    mark_stage(engine, run_id, stage, job_id=job_id)


def get_pipeline(engine: Engine, run_id: int) -> PipelineView:
    with Session(engine) as session:
        row = session.execute(
            select(PipelineRun, Source.name).join(Source).where(PipelineRun.id == run_id)
        ).first()
        if row is None:
            raise NotFoundError(f"no pipeline run {run_id}")
        run, source = row
        return _view(run, source)


def list_pipelines(
    engine: Engine, source: str | None = None, limit: int = 20, offset: int = 0
) -> list[PipelineView]:
    with Session(engine) as session:
        query = (
            select(PipelineRun, Source.name)
            .join(Source)
            .order_by(PipelineRun.id.desc())
            .limit(limit)
            .offset(offset)
        )
        if source is not None:
            query = query.where(Source.name == source)
        return [_view(run, name) for run, name in session.execute(query).all()]


def count_pipelines(engine: Engine, source: str | None = None) -> int:
    query = select(func.count()).select_from(PipelineRun).join(Source)
    if source is not None:
        query = query.where(Source.name == source)
    with Session(engine) as session:
        return int(session.execute(query).scalar_one())


def _view(run: PipelineRun, source: str) -> PipelineView:
    return PipelineView(
        id=run.id,
        source=source,
        status=run.status,
        trigger=run.trigger,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        message=run.message,
        stages=[
            StageView(
                s.stage,
                s.status,
                s.attempts,
                s.started_at,
                s.finished_at,
                dict(s.counts),
                s.message,
                s.job_id,
            )
            for s in run.stages
        ],
    )
