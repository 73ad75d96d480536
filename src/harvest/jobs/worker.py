"""`harvest worker`: runs queued jobs. Any number of workers on any number of machines share one
database: procrastinate hands each job to exactly one of them (SELECT … FOR UPDATE SKIP LOCKED), locks
keep conflicting jobs apart, and periodic ticks are deferred once.

One worker process outlives its database connections: when they break (the server stopped, restarted or
is unreachable) it logs one line and reconnects with backoff, forever, and the jobs it held go back to
the queue. It exits only when asked (SIGTERM / Ctrl-C): running stages stop at their next checkpoint and
are marked `interrupted` (they resume on the next worker); a stage that has not stopped after
HARVEST_WORKER_STOP_GRACE_S, or a second signal, is abandoned at once (its crawl process killed with its
browser, its job handed back). Each worker also looks after the others (see `WorkerProcess._janitor_pass`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime

import procrastinate
from procrastinate.worker import Worker

from harvest.db.engine import get_engine
from harvest.jobs.outages import CONNECTION_ERRORS, first_line, is_connection_error
from harvest.jobs.queue import app, conninfo, hand_back, running_jobs_of, worker_process
from harvest.settings import Settings

logger = logging.getLogger(__name__)

HEALTHY_AFTER_S = 60.0  # a connection that lasted this long resets the reconnect backoff
POOL_TIMEOUT_S = 10.0
# printed when a worker is registered with the queue; `harvest up` reads it to know whose jobs to hand
# back if it has to kill this process
READY_LINE = "queue worker {id} ready"


class QuietConnectionErrors(logging.Filter):
    """A lost database connection is an expected event for a long-running worker: one line, not a
    traceback from every layer that noticed it (procrastinate's side tasks, asyncio, the pool)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and is_connection_error(error):
            said = " ".join(record.getMessage().split())  # procrastinate's messages span lines
            record.msg = f"{said} [{first_line(error)}]"
            for key, value in list(vars(record).items()):  # and so do the fields it adds
                if isinstance(value, str) and "\n" in value and key not in ("msg", "message"):
                    setattr(record, key, " ".join(value.split()))
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


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


def _held_jobs(settings: Settings, worker_id: int) -> set[int]:
    return set(running_jobs_of(get_engine(settings), [worker_id]))


def _hand_back_unrun(settings: Settings, worker_id: int, job_ids: set[int]) -> list[int]:
    return hand_back(get_engine(settings), [worker_id], job_ids)


class WorkerProcess:
    """One `harvest worker` process: a procrastinate worker, reconnected whenever its connection breaks,
    stopped gracefully on the first signal and at once on the second (or after the grace period)."""

    def __init__(
        self,
        settings: Settings,
        concurrency: int,
        *,
        wait: bool = True,
        on_ready: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.concurrency = concurrency
        self.wait = wait
        self.on_ready = on_ready
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = False
        self.current: Worker | None = None
        self.previous_ids: list[int] = []  # queue worker ids of earlier connections of this process
        self._stop_event: asyncio.Event | None = None
        self._hard_stop: asyncio.TimerHandle | None = None

    # -- stopping --------------------------------------------------------------------------------
    def stop_requested(self) -> bool:
        return self.stopping

    def request_stop(self) -> None:
        loop = asyncio.get_running_loop()
        if self.stopping:
            self.stop_now("a second stop signal")
            return
        self.stopping = True
        grace = self.settings.worker_stop_grace_s
        logger.warning("stopping: running stages stop at their next checkpoint (at most %.0f s)", grace)
        if self._stop_event is not None:
            self._stop_event.set()
        if self.current is not None:
            self.current.stop()  # type: ignore[no-untyped-call]
        self._hard_stop = loop.call_later(grace, self.stop_now, f"stages still running after {grace:.0f} s")

    def stop_now(self, why: str) -> None:
        """Abandon what still runs: kill crawl processes, hand the jobs back (interrupted), exit."""
        from harvest.crawl.runner import kill_live_crawls
        from harvest.jobs.recovery import release_jobs

        killed = kill_live_crawls()
        worker_id = self.current.worker_id if self.current is not None else None
        code = 0
        if worker_id is not None:
            try:
                refs = release_jobs(
                    self.settings,
                    [worker_id],
                    interrupted=True,
                    reason=f"interrupted at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: its worker "
                    "stopped at once; it resumes when a worker runs",
                    delay_s=2.0,  # this process is gone by then
                )
                if refs:
                    logger.warning("stopped at once (%s): %s interrupted", why, ", ".join(map(str, refs)))
            except CONNECTION_ERRORS as error:
                code = 1
                logger.warning(
                    "stopped at once (%s); the database is unavailable (%s): its jobs go back to the "
                    "queue when their heartbeat times out",
                    why,
                    first_line(error),
                )
        if killed:
            logger.warning("killed %s crawl process(es) and their browsers", killed)
        logging.shutdown()
        os._exit(code)

    # -- running ---------------------------------------------------------------------------------
    async def run(self) -> int:
        """Run until stopped; returns the process exit code."""
        if self.settings.worker_nice:
            os.nice(self.settings.worker_nice)  # its crawl processes and their browsers inherit it
        loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        quiet = QuietConnectionErrors()
        for handler in logging.getLogger().handlers:
            handler.addFilter(quiet)
        # the pool logs every failed reconnection attempt; this loop says it once per attempt of its own
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.request_stop)
        backoff = 1.0
        try:
            while not self.stopping:
                started = time.monotonic()
                try:
                    await self._run_connected()
                    if self.stop_requested() or not self.wait:
                        break
                    reason = "the queue's database connection was lost"
                except CONNECTION_ERRORS as error:
                    if self.stop_requested():
                        break
                    reason = f"the database is unavailable ({first_line(error)})"
                if time.monotonic() - started > HEALTHY_AFTER_S:
                    backoff = 1.0
                logger.warning("%s; reconnecting in %.0f s", reason, backoff)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop_event.wait(), timeout=backoff)
                backoff = min(backoff * 2, self.settings.worker_reconnect_max_s)
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
            for handler in logging.getLogger().handlers:
                handler.removeFilter(quiet)
            if self._hard_stop is not None:
                self._hard_stop.cancel()
        return 0

    async def _run_connected(self) -> None:
        from harvest.jobs.recovery import release_jobs

        url = await asyncio.to_thread(conninfo, self.settings)
        # a lost server shows within POOL_TIMEOUT_S instead of psycopg_pool's 30 s of silent retries
        connector = procrastinate.PsycopgConnector(conninfo=url, timeout=POOL_TIMEOUT_S)
        with app.replace_connector(connector):
            worker_process.active = True
            async with app.open_async():
                if self.previous_ids:
                    # this process's earlier connections: nothing of theirs runs any more
                    await asyncio.to_thread(
                        release_jobs,
                        self.settings,
                        self.previous_ids,
                        interrupted=False,
                        reason="its worker lost the database connection; retried",
                    )
                    self.previous_ids.clear()
                app.perform_import_paths()  # type: ignore[no-untyped-call]
                worker = Worker(
                    app=app,
                    name=self.name,
                    concurrency=self.concurrency,
                    wait=self.wait,
                    shutdown_graceful_timeout=0,  # a stop aborts running jobs at once (they checkpoint)
                    install_signal_handlers=False,  # ours: graceful first, at once second
                    listen_notify=True,
                    update_heartbeat_interval=self.settings.worker_heartbeat_s,
                    stalled_worker_timeout=self.settings.worker_stalled_after_s,
                    fetch_job_polling_interval=2.0,
                    abort_job_polling_interval=1.0,
                )
                self.current = worker
                if self.stopping:
                    return
                run = asyncio.create_task(worker.run(), name="procrastinate worker")  # type: ignore[no-untyped-call]
                janitor = asyncio.create_task(self._janitor(worker, run), name="janitor")
                try:
                    await run
                finally:
                    janitor.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await janitor
                    if worker.worker_id is not None:  # it could not unregister: the connection broke
                        self.previous_ids.append(worker.worker_id)
                    self.current = None

    async def _janitor(self, worker: Worker, run: asyncio.Task[None]) -> None:
        while worker.worker_id is None and not run.done():
            await asyncio.sleep(0.05)
        if worker.worker_id is not None and self.on_ready is not None:
            self.on_ready(worker.worker_id)
        suspects: set[int] = set()
        while not run.done():
            try:
                suspects = await self._janitor_pass(worker, suspects)
            except CONNECTION_ERRORS as error:
                logger.warning("recovery pass skipped: database unavailable (%s)", first_line(error))
            except Exception:
                logger.exception("recovery pass failed; trying again later")
            await asyncio.sleep(self.settings.worker_heartbeat_s)

    async def _janitor_pass(self, worker: Worker, suspects: set[int]) -> set[int]:
        """Jobs of dead workers back to the queue; jobs this worker holds in the queue but no longer runs
        (their end could not be recorded: the connection broke at that moment) back to the queue; every
        stage and pipeline in line with its job's final state. Returns this pass's suspects."""
        from harvest.jobs.recovery import reconcile

        await recover_stalled(self.settings)
        unrun: set[int] = set()
        if worker.worker_id is not None:
            held = await asyncio.to_thread(_held_jobs, self.settings, worker.worker_id)
            # read after the query: a job fetched meanwhile is either in both or in neither
            running = {ctx.job.id for ctx in worker._running_jobs.values()}
            unrun = held - running
            orphans = unrun & suspects  # not run here in two passes in a row: certainly orphaned
            if orphans:
                handed = await asyncio.to_thread(_hand_back_unrun, self.settings, worker.worker_id, orphans)
                if handed:
                    logger.warning("jobs whose end could not be recorded go back to the queue: %s", handed)
        await asyncio.to_thread(reconcile, self.settings)
        return unrun


async def run_worker(
    settings: Settings,
    concurrency: int,
    *,
    wait: bool = True,
    on_ready: Callable[[int], None] | None = None,
) -> int:
    import harvest.jobs.tasks  # noqa: F401 - registers the tasks

    return await WorkerProcess(settings, concurrency, wait=wait, on_ready=on_ready).run()
