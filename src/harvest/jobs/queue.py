"""The task queue: one procrastinate App whose tasks live in `harvest.jobs.tasks`, reached through an
async connector in workers and a sync one everywhere else (CLI, API)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import procrastinate
from procrastinate import exceptions as queue_errors

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
    import harvest.jobs.tasks  # noqa: F401 - registers the tasks on `app`

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
