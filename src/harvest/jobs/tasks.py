"""The queue's tasks: a pipeline stage, and the once-a-minute schedule tick. procrastinate imports this
module (the App's `import_paths`); nothing in Harvest imports it back."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from procrastinate import JobContext
from procrastinate.exceptions import JobAborted
from procrastinate.job_context import AbortReason
from procrastinate.retry import BaseRetryStrategy
from sqlalchemy import select

from harvest.db.engine import get_engine
from harvest.db.models import PipelineRun, PipelineStage, Source
from harvest.jobs.outages import first_line, is_connection_error
from harvest.jobs.pipeline import (
    LIVE,
    STAGE_TASK,
    fail_pipeline,
    mark_interrupted,
    mark_running,
    mark_stage,
    queue_next,
)
from harvest.jobs.queue import app
from harvest.jobs.schedule import TICK_QUEUE
from harvest.jobs.stages import STAGE_FUNCTIONS, Progress, StageCancelled, StageInterrupted
from harvest.settings import get_settings

logger = logging.getLogger(__name__)


class StageGaveUp(Exception):
    """The stage failed for the last time (HARVEST_JOB_MAX_ATTEMPTS): the job ends `failed`."""


class StageWaiting(Exception):
    """A store the stage needs cannot be reached (an outage, not a failure of the stage)."""


class SettingsRetry(BaseRetryStrategy):
    """The stage task decides (from the stage's own attempt count, which neither interruptions nor
    outages raise): a stage interrupted by a shutdown goes back to the queue at once; one waiting for an
    unreachable store is retried with backoff up to HARVEST_WORKER_RECONNECT_MAX_S, for as long as it
    takes; a failed attempt is retried after HARVEST_JOB_RETRY_WAIT_S, doubling; a cancelled stage, or
    one that gave up, is never retried."""

    def get_schedule_in(self, *, exception: BaseException, attempts: int) -> int | None:
        settings = get_settings()
        if isinstance(exception, StageInterrupted):
            return 0
        if isinstance(exception, (StageGaveUp, StageCancelled, JobAborted)):
            return None
        if isinstance(exception, StageWaiting) or is_connection_error(exception):
            return int(min(2 ** min(attempts, 10), settings.worker_reconnect_max_s))
        return int(settings.job_retry_wait_s * (2 ** min(attempts, 10)))


def _stopped_at() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
    if row.status not in LIVE:
        logger.info("pipeline run %s is %s; skipping its %s stage", pipeline_run_id, row.status, stage)
        return
    if row.stage_status == "succeeded":  # a retry after the worker died between finishing and queueing
        queue_next(settings, pipeline_run_id, stage)
        return
    attempt, resumed = mark_running(engine, pipeline_run_id, stage)
    if resumed:
        logger.warning(
            "pipeline %s: resuming the %s of %s, interrupted when a worker shut down (attempt %s goes on)",
            pipeline_run_id,
            stage,
            row.name,
            attempt,
        )
    else:
        logger.info("pipeline %s: %s of %s (attempt %s)", pipeline_run_id, stage, row.name, attempt)

    def abort_reason() -> str | None:
        reason = context.abort_reason()
        if reason is None:
            return None
        return "shutdown" if reason == AbortReason.SHUTDOWN else "cancelled by a user"

    progress = Progress(settings, pipeline_run_id, stage, abort_reason)
    try:
        counts = STAGE_FUNCTIONS[stage](settings, row.name, progress)
    except StageInterrupted:
        mark_interrupted(
            engine,
            pipeline_run_id,
            stage,
            f"interrupted at {_stopped_at()}: its worker shut down; it resumes when a worker runs",
        )
        logger.warning(
            "pipeline %s: %s interrupted (worker shutting down); queued to resume", pipeline_run_id, stage
        )
        raise  # SettingsRetry puts the job back in the queue at once
    except StageCancelled as error:
        mark_stage(engine, pipeline_run_id, stage, status="cancelled", finished_at=datetime.now(UTC))
        logger.info("pipeline %s: %s cancelled (%s)", pipeline_run_id, stage, error)
        raise JobAborted(str(error)) from error  # the job ends `aborted`, as the stage did
    except Exception as error:
        message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        if is_connection_error(error):
            # not this attempt's fault: it does not count, and the stage says what it waits for
            mark_stage(
                engine,
                pipeline_run_id,
                stage,
                status="queued",
                attempts=attempt - 1,
                message=f"waiting for a store to come back: {first_line(error)}",
            )
            logger.warning("pipeline %s: %s waits for a store: %s", pipeline_run_id, stage, first_line(error))
            raise StageWaiting(message) from error
        # a stage whose input is at fault (a poison row, a bad spec) would fail the same way again
        last = attempt >= settings.job_max_attempts or not getattr(error, "retryable", True)
        mark_stage(
            engine,
            pipeline_run_id,
            stage,
            status="failed" if last else "queued",
            message=message,
            **({"finished_at": datetime.now(UTC)} if last else {}),
        )
        logger.warning("pipeline %s: %s attempt %s failed: %s", pipeline_run_id, stage, attempt, message)
        if last:
            fail_pipeline(
                engine,
                pipeline_run_id,
                f"{stage} failed after {attempt} attempt{'s' if attempt != 1 else ''}: {message}",
            )
            raise StageGaveUp(message) from error
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
