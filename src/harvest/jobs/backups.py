"""The automatic backup: a tick every minute (like the pipelines' schedules) queues a backup job when
HARVEST_BACKUP_SCHEDULE fires (nightly by default, in every `harvest up`); the job backs up, then prunes
to HARVEST_BACKUP_KEEP_DAILY / _WEEKLY. A failure is recorded by the backup itself (backup_runs) and
shows in `harvest status` and /api/health."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from croniter import croniter

from harvest.errors import ConflictError
from harvest.jobs.queue import app, defer, sync_queue
from harvest.jobs.schedule import TICK_QUEUE
from harvest.settings import Settings, get_settings

logger = logging.getLogger(__name__)

BACKUP_TASK = "harvest.backup"


def backup_due(settings: Settings, minute: datetime) -> bool:
    cron = settings.backup_cron
    return cron is not None and bool(croniter.match(cron, minute.replace(second=0, microsecond=0)))


def queue_backup(settings: Settings) -> int | None:
    """Queue a backup job; None when one is already waiting."""
    with sync_queue(settings) as queue:
        try:
            return defer(queue, BACKUP_TASK, lock=BACKUP_TASK, queueing_lock=BACKUP_TASK)
        except ConflictError:
            logger.info("a backup is already queued; not queueing another")
            return None


def run_backup_job(settings: Settings) -> str:
    """Back up (trigger `schedule`), then prune; returns the backup id."""
    from harvest.backup import create_backup, prune_backups

    manifest = create_backup(settings, trigger="schedule")
    try:
        report = prune_backups(settings)
        logger.info("pruned %s old backups after %s", len(report.removed), manifest.id)
    except Exception:  # the backup itself succeeded; pruning is tried again next time
        logger.exception("pruning backups after %s failed", manifest.id)
    return manifest.id


@app.periodic(cron="* * * * *", periodic_id="backup")
@app.task(name="harvest.backup_tick", queueing_lock="harvest.backup_tick", queue=TICK_QUEUE)
def backup_tick(timestamp: int) -> None:
    settings = get_settings()
    if backup_due(settings, datetime.fromtimestamp(timestamp, UTC)):
        job = queue_backup(settings)
        logger.info("backup schedule %s fired: job %s", settings.backup_cron, job)


@app.task(name=BACKUP_TASK)
def backup_job() -> None:
    run_backup_job(get_settings())
