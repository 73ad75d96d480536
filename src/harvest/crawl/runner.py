"""Starts a crawl run in its own process and follows it: progress, Ctrl-C, and a worker that died."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from harvest.crawl.runs import RunView, create_run, finish_run, get_run, release_run
from harvest.db.engine import get_engine
from harvest.processes import kill_process_tree
from harvest.settings import Settings, settings_env

logger = logging.getLogger(__name__)

POLL_INTERVAL_S = 0.5
_live: set[subprocess.Popen[bytes]] = set()  # crawl processes this process follows right now


def crawl_log_path(settings: Settings, run_id: int) -> Path:
    return settings.data_dir / "logs" / f"crawl-{run_id}.log"


def run_crawl(
    settings: Settings,
    source_name: str,
    *,
    on_progress: Callable[[RunView], None] | None = None,
    run_id: int | None = None,
    stop_grace_s: float | None = None,
    full: bool = False,
) -> RunView:
    """Crawl one source to the end (or to Ctrl-C) and return the finished run. `run_id`: a run already
    created with `create_run` (the API creates it first, to answer with its id at once). A first Ctrl-C
    (KeyboardInterrupt, also raised by `on_progress` to stop) asks the crawl process to stop gracefully;
    a second one, or `stop_grace_s` seconds without it stopping, kills it with its browser. `full`: ask
    for every known page, due or not (harvest.crawl.revisit)."""
    engine = get_engine(settings)
    if run_id is None:
        run_id = create_run(engine, source_name, full=full)
    try:
        code = _run_process(settings, run_id, on_progress, stop_grace_s)
    finally:
        release_run(run_id)  # the crawl process held its own claim; this one is not needed any more
    if code != 0:
        tail = _tail(crawl_log_path(settings, run_id))
        finish_run(
            engine,
            run_id,
            "interrupted" if code < 0 else "failed",
            f"the crawl process exited with code {code}" + (f": {tail}" if tail else ""),
        )
    return get_run(engine, run_id)


def _run_process(
    settings: Settings,
    run_id: int,
    on_progress: Callable[[RunView], None] | None,
    stop_grace_s: float | None,
) -> int:
    """Run the crawl process to its end, reporting progress; returns its exit code."""
    engine = get_engine(settings)
    log_path = crawl_log_path(settings, run_id)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        # A session of its own: Ctrl-C reaches the worker once, forwarded by us, never twice.
        worker = subprocess.Popen(
            [sys.executable, "-m", "harvest.crawl.worker", str(run_id)],
            env=settings_env(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _live.add(worker)
        try:
            return _follow(engine, run_id, worker, on_progress, stop_grace_s)
        finally:
            _live.discard(worker)


def _tail(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][-300:] if lines else ""


def _follow(
    engine: Engine,
    run_id: int,
    worker: subprocess.Popen[bytes],
    on_progress: Callable[[RunView], None] | None,
    stop_grace_s: float | None,
) -> int:
    interrupts = 0
    deadline: float | None = None
    while True:
        try:
            try:
                return worker.wait(timeout=POLL_INTERVAL_S)
            except subprocess.TimeoutExpired:
                pass
            if deadline is not None and time.monotonic() > deadline:
                logger.warning("crawl run %s did not stop in %.0f s; killing it", run_id, stop_grace_s)
                kill_process_tree(worker.pid)
                deadline = None
                continue
            # outside the `except` above, so a Ctrl-C (or a cancel) raised while reporting is caught
            if on_progress is not None:
                on_progress(get_run(engine, run_id, error_limit=0))
        except KeyboardInterrupt:
            interrupts += 1
            if interrupts == 1:
                # graceful stop: what was fetched is written
                worker.send_signal(signal.SIGINT)
                if stop_grace_s is not None:
                    deadline = time.monotonic() + stop_grace_s
            else:
                kill_process_tree(worker.pid)


def kill_live_crawls() -> int:
    """Kill every crawl process this process started and still follows (a worker stopping at once)."""
    live = list(_live)
    for worker in live:
        kill_process_tree(worker.pid)
    return len(live)
