"""`harvest scheduler`: a process that owns time, for deployments that run it apart from the workers.

It defers the minute tick (procrastinate's periodic deferrer: each minute is deferred once however many
schedulers and workers run, the `procrastinate_periodic_defers` table decides) and runs the ticks itself,
on a queue of their own, so scheduled pipelines start on the minute even while every worker is busy with
a long crawl. Workers still run ticks too (they listen on every queue), so `harvest up` needs no scheduler
process; a tick is one job and runs exactly once wherever it lands. The scheduler runs no stage itself."""

from __future__ import annotations

import logging
import os
import socket

import procrastinate

from harvest.jobs.queue import app, conninfo, worker_process
from harvest.jobs.schedule import TICK_QUEUE
from harvest.settings import Settings

logger = logging.getLogger(__name__)


async def run_scheduler(settings: Settings) -> None:
    """Defer and run the schedule ticks until SIGTERM / Ctrl-C."""
    import harvest.jobs.tasks  # noqa: F401 - registers the tasks and the periodic tick

    name = f"scheduler:{socket.gethostname()}:{os.getpid()}"
    connector = procrastinate.PsycopgConnector(conninfo=conninfo(settings))
    with app.replace_connector(connector):
        worker_process.active = True  # ticks defer pipeline stages through this open connector
        async with app.open_async():
            logger.info("scheduler started", extra={"scheduler": name, "queue": TICK_QUEUE})
            await app.run_worker_async(
                queues=[TICK_QUEUE],
                concurrency=1,
                name=name,
                wait=True,
                update_heartbeat_interval=settings.worker_heartbeat_s,
                stalled_worker_timeout=settings.worker_stalled_after_s,
                install_signal_handlers=True,
                listen_notify=True,
                fetch_job_polling_interval=2.0,
            )
