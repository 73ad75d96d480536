"""The task queue: one procrastinate App whose tasks live in `harvest.jobs.tasks` (imported by procrastinate
through `import_paths` when a task is needed, so nothing here imports it back), reached through an async
connector in workers and a sync one everywhere else (CLI, API); and the few queries Harvest makes on the
queue's own tables (job states, handing back the jobs of a worker that stopped)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate import exceptions as queue_errors
from sqlalchemy import Engine, text

from harvest.db.engine import get_engine
from harvest.errors import ConflictError
from harvest.settings import Settings

app = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=["harvest.jobs.tasks"])


class _WorkerProcess:
    active = False  # set by harvest.jobs.worker while a worker runs in this process


worker_process = _WorkerProcess()
_swap = threading.Lock()  # replace_connector swaps the one App's connector: one sync user at a time


def conninfo(settings: Settings) -> str:
    """A libpq URI for Harvest's database (starting and migrating it first, like every command)."""
    url = get_engine(settings).url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@contextmanager
def sync_queue(settings: Settings) -> Iterator[procrastinate.App]:
    """The App with a synchronous connector, open, for deferring or cancelling jobs outside a worker."""
    if worker_process.active:
        # Inside a worker the App's async connector is open and in use by the worker loop: tasks (run in
        # threads) defer through it; swapping it would pull it from under the worker.
        yield app
        return
    with (
        _swap,
        app.replace_connector(procrastinate.SyncPsycopgConnector(conninfo=conninfo(settings))) as sync_app,
        sync_app.open(),
    ):
        yield sync_app


def defer(
    queue: procrastinate.App,
    task: str,
    *,
    lock: str | None = None,
    queueing_lock: str | None = None,
    **kwargs: Any,
) -> int:
    try:
        return int(
            queue.configure_task(task, lock=lock, queueing_lock=queueing_lock, allow_unknown=False).defer(
                **kwargs
            )
        )
    except queue_errors.AlreadyEnqueued as error:
        raise ConflictError(f"a {task} job with lock {queueing_lock!r} is already waiting") from error


@dataclass(frozen=True)
class JobState:
    id: int
    status: str  # todo | doing | succeeded | failed | cancelled | aborted
    abort_requested: bool
    worker_id: int | None


def job_states(engine: Engine, job_ids: Iterable[int]) -> dict[int, JobState]:
    """The queue's view of some jobs (a job missing from the answer was deleted)."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT id, status::text, abort_requested, worker_id FROM procrastinate_jobs "
                "WHERE id = ANY(:ids)"
            ),
            {"ids": ids},
        ).all()
    return {int(r.id): JobState(int(r.id), r.status, bool(r.abort_requested), r.worker_id) for r in rows}


_RUNNING_JOBS_OF = text(
    "SELECT id FROM procrastinate_jobs WHERE status = 'doing' AND worker_id = ANY(:workers) ORDER BY id"
)
# What procrastinate's own retry does, limited to jobs that are still `doing` for the given workers (a job
# that ended meanwhile, or that another worker took since, is left alone); a job whose cancel was
# requested meanwhile ends `failed` (with abort_requested, which reads as cancelled).
_HAND_BACK = text(
    """
    UPDATE procrastinate_jobs
       SET status = (CASE WHEN abort_requested THEN 'failed' ELSE 'todo' END)::procrastinate_job_status,
           attempts = attempts + (CASE WHEN abort_requested THEN 0 ELSE 1 END),
           scheduled_at = CASE WHEN abort_requested THEN scheduled_at
                               ELSE now() + make_interval(secs => :delay) END
     WHERE status = 'doing' AND worker_id = ANY(:workers) AND id = ANY(:jobs)
    RETURNING id
    """
)


def running_jobs_of(engine: Engine, worker_ids: Iterable[int]) -> list[int]:
    """Jobs the queue believes these workers are running."""
    with engine.connect() as conn:
        return [int(i) for i in conn.execute(_RUNNING_JOBS_OF, {"workers": list(worker_ids)}).scalars()]


def hand_back(
    engine: Engine, worker_ids: Iterable[int], job_ids: Iterable[int], delay_s: float = 0.0
) -> list[int]:
    """Put jobs that these workers no longer run back in the queue (each counts as an attempt)."""
    with engine.begin() as conn:
        returned = conn.execute(
            _HAND_BACK, {"workers": list(worker_ids), "jobs": list(job_ids), "delay": float(delay_s)}
        ).scalars()
        return [int(i) for i in returned]
