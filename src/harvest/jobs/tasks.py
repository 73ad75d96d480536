"""The queue's tasks: a pipeline stage, and the once-a-minute schedule tick."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from procrastinate import JobContext
from procrastinate.job_context import AbortReason
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy import select

from harvest.db.engine import get_engine
from harvest.db.models import PipelineRun, PipelineStage, Source
from harvest.jobs.pipeline import STAGE_TASK, fail_pipeline, mark_running, mark_stage, queue_next
from harvest.jobs.queue import app
from harvest.jobs.schedule import TICK_QUEUE
from harvest.jobs.stages import STAGE_FUNCTIONS, Progress, StageCancelled, StageInterrupted
from harvest.settings import get_settings

logger = logging.getLogger(__name__)


class SettingsRetry(BaseRetryStrategy):
    """Retry a failed stage up to HARVEST_JOB_MAX_ATTEMPTS times, waiting HARVEST_JOB_RETRY_WAIT_S and
    doubling; a cancelled stage is never retried."""

    def get_schedule_in(self, *, exception: BaseException, attempts: int) -> int | None:
        settings = get_settings()
        if isinstance(exception, StageCancelled) or not getattr(exception, "retryable", True):
            return None
        if attempts + 1 >= settings.job_max_attempts:
            return None
        return int(settings.job_retry_wait_s * (2**attempts))


@app.task(name=STAGE_TASK, pass_context=True, retry=SettingsRetry())
def run_stage(context: JobContext, pipeline_run_id: int, stage: str) -> None:
    settings = get_settings()
    engine = get_engine(settings)
    with engine.connect() as conn:
        row = conn.execute(
            select(PipelineRun.status, Source.name, PipelineStage.status.label("stage_status"))
            .join(Source, Source.id == PipelineRun.source_id)
            .join(PipelineStage, PipelineStage.pipeline_run_id == PipelineRun.id)
            .where(PipelineRun.id == pipeline_run_id, PipelineStage.stage == stage)
        ).first()
    if row is None:
        logger.warning("pipeline run %s (stage %s) no longer exists; nothing to do", pipeline_run_id, stage)
        return
    if row.status not in ("queued", "running"):
        logger.info("pipeline run %s is %s; skipping its %s stage", pipeline_run_id, row.status, stage)
        return
    if row.stage_status == "succeeded":  # a retry after the worker died between finishing and queueing
        queue_next(settings, pipeline_run_id, stage)
        return
    attempt = mark_running(engine, pipeline_run_id, stage)
    logger.info("pipeline %s: %s of %s (attempt %s)", pipeline_run_id, stage, row.name, attempt)

    def abort_reason() -> str | None:
        reason = context.abort_reason()
        if reason is None:
            return None
        return "shutdown" if reason == AbortReason.SHUTDOWN else "cancelled by a user"

    progress = Progress(settings, pipeline_run_id, stage, abort_reason)
    try:
        counts = STAGE_FUNCTIONS[stage](settings, row.name, progress)
    except StageCancelled as error:
        mark_stage(engine, pipeline_run_id, stage, status="cancelled", finished_at=datetime.now(UTC))
        logger.info("pipeline %s: %s cancelled (%s)", pipeline_run_id, stage, error)
        return
    except Exception as error:
        # the same decision SettingsRetry makes from the queue's own attempt count
        last = (
            context.job.attempts + 1 >= settings.job_max_attempts
            or isinstance(error, StageCancelled)
            or not getattr(error, "retryable", True)
        )
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        mark_stage(
            engine,
            pipeline_run_id,
            stage,
            status="failed" if last else "queued",
            message=message,
            **({"finished_at": datetime.now(UTC)} if last else {}),
        )
        if last:
            fail_pipeline(
                engine,
                pipeline_run_id,
                f"{stage} failed after {attempt} attempt{'s' if attempt != 1 else ''}: {message}",
            )
        logger.warning("pipeline %s: %s attempt %s failed: %s", pipeline_run_id, stage, attempt, message)
        raise
    mark_stage(
        engine, pipeline_run_id, stage, status="succeeded", counts=counts, finished_at=datetime.now(UTC)
    )
    logger.info("pipeline %s: %s done %s", pipeline_run_id, stage, counts)
    queue_next(settings, pipeline_run_id, stage)


@app.periodic(cron="* * * * *")
@app.task(name="harvest.schedule_tick", queueing_lock="harvest.schedule_tick", queue=TICK_QUEUE)
def schedule_tick(timestamp: int) -> None:
    """Once a minute (exactly once across all workers: procrastinate defers each periodic timestamp
    once): start the pipelines whose schedules fire at this minute."""
    from harvest.jobs.schedule import fire_schedules

    started = fire_schedules(get_settings(), datetime.fromtimestamp(timestamp, UTC))
    if started:
        logger.info("schedule: started pipelines %s", started)


# -- training (harvest.train) -------------------------------------------------------------------------------
class TrainRetry(BaseRetryStrategy):
    """Retry a training job like a stage, except when the input is at fault (it would fail again)."""

    def get_schedule_in(self, *, exception: BaseException, attempts: int) -> int | None:
        from harvest.errors import HarvestError

        if isinstance(exception, HarvestError) and 400 <= exception.http_status < 500:
            return None
        return SettingsRetry().get_schedule_in(exception=exception, attempts=attempts)


@app.task(name="harvest.train", pass_context=True, retry=TrainRetry())
def train_task(context: JobContext, training_run_id: int) -> None:
    from harvest.train.trainer import run_training

    def checkpoint() -> None:
        if context.abort_reason() is not None:
            raise StageInterrupted("the worker is shutting down or the job was cancelled")

    run_training(get_settings(), training_run_id, checkpoint=checkpoint)


@app.periodic(cron="* * * * *")
@app.task(name="harvest.retrain_tick", queueing_lock="harvest.retrain_tick", queue=TICK_QUEUE)
def retrain_tick(timestamp: int) -> None:
    """Once a minute: queue a challenger training for every retrain schedule that fires now."""
    from harvest.train.queueing import queue_training
    from harvest.train.retrain import due_schedules
    from harvest.train.trainer import TrainOptions

    settings = get_settings()
    for model, dataset, params in due_schedules(settings, datetime.fromtimestamp(timestamp, UTC)):
        options = TrainOptions(
            model_name=model, retrain=True, **{k: v for k, v in params.items() if k != "retrain"}
        )
        queue_training(settings, dataset, options, trigger="schedule")
        logger.info("retrain: queued a challenger for %s", model)


# The automatic backup's tasks live with the backup schedule; importing them here registers them.
import harvest.jobs.backups  # noqa: E402, F401
