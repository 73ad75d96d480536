"""`harvest worker`: runs queued jobs. Any number of workers on any number of machines share one
database: procrastinate hands each job to exactly one of them (SELECT … FOR UPDATE SKIP LOCKED), locks
keep conflicting jobs apart, and periodic ticks are deferred once. Each worker also looks after the jobs
of workers that died (no heartbeat for HARVEST_WORKER_STALLED_AFTER_S): they go back to the queue."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import procrastinate

from harvest.jobs.queue import app, conninfo, worker_process
from harvest.settings import Settings

logger = logging.getLogger(__name__)


async def recover_stalled(settings: Settings) -> list[int]:
    """Put the jobs of dead workers back in the queue; stages queued without a job get one."""
    from harvest.jobs.pipeline import requeue_orphans

    retried = []
    for job in await app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.worker_stalled_after_s
    ):
        try:
            await app.job_manager.retry_job(job)
            retried.append(int(job.id or 0))
        except Exception as error:  # another worker retried it first
            logger.debug("stalled job %s not retried here: %s", job.id, error)
    if retried:
        logger.warning("retrying jobs of workers that stopped answering: %s", retried)
    orphans = await asyncio.to_thread(requeue_orphans, settings, settings.worker_stalled_after_s)
    if orphans:
        logger.warning("queued stages that had lost their job: %s", orphans)
    return retried


async def _janitor(settings: Settings) -> None:
    while True:
        try:
            await recover_stalled(settings)
        except Exception:
            logger.exception("stalled-job recovery failed; trying again later")
        await asyncio.sleep(settings.worker_heartbeat_s)


async def run_worker(settings: Settings, concurrency: int, *, wait: bool = True) -> None:
    import harvest.jobs.tasks  # noqa: F401 - registers the tasks

    name = f"{socket.gethostname()}:{os.getpid()}"
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(settings))
    with app.replace_connector(connector):
        worker_process.active = True
        async with app.open_async():
            janitor = asyncio.create_task(_janitor(settings))
            try:
                await app.run_worker_async(
                    concurrency=concurrency,
                    name=name,
                    wait=wait,
                    update_heartbeat_interval=settings.worker_heartbeat_s,
                    stalled_worker_timeout=settings.worker_stalled_after_s,
                    install_signal_handlers=True,
                    listen_notify=True,
                    fetch_job_polling_interval=2.0,
                    abort_job_polling_interval=2.0,
                )
            finally:
                janitor.cancel()
