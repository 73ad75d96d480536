"""Keeping pipeline rows true to the queue, whatever stopped a worker: a job's final state is the truth.

- `reconcile`: a stage still `queued` / `running` / `interrupted` whose job has ended (failed, aborted,
  cancelled, deleted, or succeeded without recording it — e.g. the database went away while the worker
  wrote) takes the job's state, and so does its pipeline; a pipeline whose stages all ended ends too.
- `release_jobs`: the jobs a worker process ran when it stopped go back to the queue; their stages are
  `interrupted` (a shutdown: they resume, not a new attempt) or `queued` (a crash: a new attempt).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from harvest.db.engine import get_engine
from harvest.db.models import PipelineRun, PipelineStage, Source
from harvest.jobs.pipeline import LIVE, fail_pipeline, finish_pipeline, mark_interrupted, queue_next
from harvest.jobs.queue import JobState, hand_back, job_states, running_jobs_of
from harvest.settings import Settings

logger = logging.getLogger(__name__)

RUNNING_JOB = ("todo", "doing")


@dataclass(frozen=True)
class StageRef:
    pipeline_run_id: int
    stage: str
    source: str

    def __str__(self) -> str:
        return f"pipeline {self.pipeline_run_id} ({self.source}: {self.stage})"


def _end_stage(session: Session, row: PipelineStage, status: str, message: str) -> None:
    session.execute(
        update(PipelineStage)
        .where(PipelineStage.id == row.id, PipelineStage.status == row.status)
        .values(status=status, message=message, finished_at=datetime.now(UTC))
    )


def _follow_job(session: Session, row: PipelineStage, job: JobState | None) -> str | None:
    """Bring one live stage in line with its job; returns what was done, if anything."""
    if job is not None and job.status in RUNNING_JOB:
        return None
    if job is None:
        _end_stage(session, row, "failed", "its queue job no longer exists")
        return "failed (job gone)"
    if job.status in ("cancelled", "aborted") or (job.status == "failed" and job.abort_requested):
        _end_stage(session, row, "cancelled", row.message or "cancelled")
        return "cancelled"
    if job.status == "failed":
        _end_stage(session, row, "failed", row.message or "its job failed (see the worker's log)")
        return "failed"
    _end_stage(session, row, "failed", "its job ended without recording a result (see the worker's log)")
    return "failed (no result recorded)"


def reconcile(settings: Settings) -> list[str]:
    """Make every stage and pipeline follow its job's final state; returns a line per fix."""
    engine = get_engine(settings)
    fixes: list[str] = []
    with Session(engine) as session:
        rows = session.execute(
            select(PipelineStage, PipelineRun.status, Source.name)
            .join(PipelineRun, PipelineRun.id == PipelineStage.pipeline_run_id)
            .join(Source, Source.id == PipelineRun.source_id)
            .where(or_(PipelineRun.status.in_(LIVE), PipelineStage.status.in_(LIVE)))
            .order_by(PipelineStage.pipeline_run_id, PipelineStage.position)
        ).all()
        jobs = job_states(engine, [stage.job_id for stage, _, _ in rows if stage.job_id is not None])
        runs: dict[int, list[PipelineStage]] = defaultdict(list)
        sources: dict[int, tuple[str, str]] = {}
        for stage, run_status, source in rows:
            runs[stage.pipeline_run_id].append(stage)
            sources[stage.pipeline_run_id] = (run_status, source)
            if stage.status in LIVE and stage.job_id is not None:
                done = _follow_job(session, stage, jobs.get(stage.job_id))
                if done:
                    fixes.append(f"{StageRef(stage.pipeline_run_id, stage.stage, source)}: stage {done}")
        session.commit()
    for run_id, (run_status, source) in sources.items():
        if run_status in LIVE:
            fix = _settle_pipeline(settings, run_id)
            if fix:
                fixes.append(f"pipeline {run_id} ({source}): {fix}")
    for fix in fixes:
        logger.warning("reconciled %s", fix)
    return fixes


def _settle_pipeline(settings: Settings, run_id: int) -> str | None:
    """A live pipeline none of whose stages has a live job: end it as its stages did, or queue the
    stage that a worker which died after finishing the previous one never queued."""
    engine = get_engine(settings)
    with Session(engine) as session:
        stages = list(
            session.scalars(
                select(PipelineStage)
                .where(PipelineStage.pipeline_run_id == run_id)
                .order_by(PipelineStage.position)
            )
        )
    jobs = job_states(engine, [s.job_id for s in stages if s.job_id is not None])
    if any(s.status in LIVE for s in stages) or any(j.status in RUNNING_JOB for j in jobs.values()):
        return None
    by_status = {s.stage: s.status for s in stages}
    failed = next((s for s in stages if s.status == "failed"), None)
    if failed is not None:
        fail_pipeline(engine, run_id, f"{failed.stage} failed: {failed.message or 'see the worker log'}")
        return "failed"
    if "cancelled" in by_status.values():
        finish_pipeline(engine, run_id, "cancelled", "cancelled")
        return "cancelled"
    order = [s.stage for s in stages]  # this run's stages: the fixed ones, then those the source opted into
    done = [s.stage for s in stages if s.status == "succeeded"]
    if len(done) == len(order):
        finish_pipeline(engine, run_id, "succeeded")
        return "succeeded"
    if done and order.index(done[-1]) == len(done) - 1:
        queued = queue_next(settings, run_id, done[-1])
        return f"queued {queued}" if queued else None
    return None


def release_jobs(
    settings: Settings, worker_ids: Iterable[int], *, interrupted: bool, reason: str, delay_s: float = 0.0
) -> list[StageRef]:
    """Hand the jobs that these (stopped) workers were running back to the queue."""
    engine = get_engine(settings)
    worker_ids = list(worker_ids)
    job_ids = running_jobs_of(engine, worker_ids)
    if not job_ids:
        return []
    with Session(engine) as session:
        rows = session.execute(
            select(PipelineStage.pipeline_run_id, PipelineStage.stage, Source.name, PipelineStage.job_id)
            .join(PipelineRun, PipelineRun.id == PipelineStage.pipeline_run_id)
            .join(Source, Source.id == PipelineRun.source_id)
            .where(PipelineStage.job_id.in_(job_ids))
        ).all()
    refs = [StageRef(run_id, stage, source) for run_id, stage, source, _ in rows]
    job_of = [job_id for *_, job_id in rows]
    # the rows first: once a job is back in the queue another worker may take it and mark it running
    for ref in refs:
        if interrupted:
            mark_interrupted(engine, ref.pipeline_run_id, ref.stage, reason)
        else:
            with engine.begin() as conn:
                conn.execute(
                    update(PipelineStage)
                    .where(
                        PipelineStage.pipeline_run_id == ref.pipeline_run_id,
                        PipelineStage.stage == ref.stage,
                        PipelineStage.status == "running",
                    )
                    .values(status="queued", message=reason)
                )
    handed = set(hand_back(engine, worker_ids, job_ids, delay_s))
    return [ref for ref, job_id in zip(refs, job_of, strict=True) if job_id in handed]


def interrupted_pipelines(settings: Settings) -> list[StageRef]:
    """Pipelines waiting, interrupted, for a worker to resume them."""
    with Session(get_engine(settings)) as session:
        rows = session.execute(
            select(PipelineStage.pipeline_run_id, PipelineStage.stage, Source.name)
            .join(PipelineRun, PipelineRun.id == PipelineStage.pipeline_run_id)
            .join(Source, Source.id == PipelineRun.source_id)
            .where(PipelineRun.status == "interrupted", PipelineStage.status == "interrupted")
            .order_by(PipelineStage.pipeline_run_id)
        ).all()
    return [StageRef(run_id, stage, source) for run_id, stage, source in rows]
