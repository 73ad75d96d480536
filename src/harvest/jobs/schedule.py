"""Schedules: each source's cron expression, and HARVEST_UPDATE_ALL_SCHEDULE for every source.

Expressions are checked on input, but a stored one can still be unusable (written by an older version,
or by hand): such a schedule is skipped with an error for its source alone, so one bad row never stops
the minute tick or the listing for everyone else."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from harvest.cron import check_cron, fires_at, next_fire
from harvest.db.engine import get_engine
from harvest.db.models import PipelineRun, Source
from harvest.settings import Settings

logger = logging.getLogger(__name__)

# The minute tick's queue: `harvest scheduler` listens on it alone; workers listen on every queue.
TICK_QUEUE = "schedule"


@dataclass(frozen=True)
class ScheduleView:
    source: str
    schedule: str
    origin: str  # "source" or "update-all"
    next_at: datetime | None  # None when the expression is unusable (see `error`)
    last_scheduled_run: datetime | None
    error: str | None = None


def _fires(source: str, expression: str, minute: datetime) -> bool:
    try:
        check_cron(expression)
        return fires_at(expression, minute)
    except Exception as error:
        logger.error(
            "schedule skipped: the cron expression is unusable",
            extra={"source": source, "schedule": expression, "error": str(error)},
        )
        return False


def due_sources(settings: Settings, minute: datetime) -> list[str]:
    """Sources whose own schedule, or the update-all schedule, fires at this minute."""
    with Session(get_engine(settings)) as session:
        sources = session.execute(select(Source.name, Source.schedule).order_by(Source.name)).all()
    every = settings.update_all_schedule is not None and _fires("*", settings.update_all_schedule, minute)
    return [name for name, schedule in sources if every or (schedule and _fires(name, schedule, minute))]


def fire_schedules(settings: Settings, minute: datetime) -> list[int]:
    """Start the pipelines due at `minute` (one already waiting or running for a source is kept)."""
    from harvest.jobs.pipeline import start_pipeline

    started = []
    for source in due_sources(settings, minute):
        try:
            started.append(start_pipeline(settings, source, trigger="schedule").id)
        except Exception:  # one source's failure must not keep the others from starting
            logger.exception("schedule: could not start the pipeline of %s", source)
    return started


def _next(expression: str, now: datetime) -> tuple[datetime | None, str | None]:
    try:
        return next_fire(check_cron(expression), now), None
    except Exception as error:
        return None, str(error)


def list_schedules(settings: Settings, now: datetime | None = None) -> list[ScheduleView]:
    now = now or datetime.now(UTC)
    with Session(get_engine(settings)) as session:
        rows = session.execute(select(Source.id, Source.name, Source.schedule).order_by(Source.name)).all()
        last = dict(
            session.execute(
                select(PipelineRun.source_id, PipelineRun.created_at)
                .where(PipelineRun.trigger == "schedule")
                .order_by(PipelineRun.source_id, PipelineRun.created_at.desc())
                .ext(distinct_on(PipelineRun.source_id))
            ).all()
        )
    views = []
    for source_id, name, schedule in rows:
        for expression, origin in ((schedule, "source"), (settings.update_all_schedule, "update-all")):
            if expression:
                next_at, error = _next(expression, now)
                views.append(ScheduleView(name, expression, origin, next_at, last.get(source_id), error))
    return views
