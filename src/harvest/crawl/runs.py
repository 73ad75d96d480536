"""Crawl runs in PostgreSQL: one row per run with status, counts, heartbeat and per-page errors."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

from harvest.db.models import CrawlError, CrawlRun, Source
from harvest.errors import ConflictError, NotFoundError

COUNTERS = ("fetched", "new", "changed", "unchanged", "gone", "failed", "robots_skipped")
STALE_AFTER = timedelta(seconds=30)
LIVE_STATUSES = ("queued", "running")


@dataclass(frozen=True)
class RunView:
    id: int
    source: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    counts: dict[str, int]
    message: str | None
    errors: list[tuple[str, str]]

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at or datetime.now(UTC)
        return max((end - self.started_at).total_seconds(), 0.0)


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _worker_alive(worker: str | None) -> bool:
    if not worker or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return True  # another machine: trust the heartbeat instead
    return pid.isdigit() and psutil.pid_exists(int(pid))


def create_run(engine: Engine, source_name: str) -> int:
    """A queued run for a source; refuses while another live run crawls it, closes dead ones first."""
    with Session(engine) as session, session.begin():
        source = session.scalar(select(Source).where(Source.name == source_name).with_for_update())
        if source is None:
            raise NotFoundError(f"no source named {source_name!r}", hint="see `harvest source list`")
        now = datetime.now(UTC)
        for run in session.scalars(
            select(CrawlRun).where(CrawlRun.source_id == source.id, CrawlRun.status.in_(LIVE_STATUSES))
        ):
            fresh = run.heartbeat_at is not None and now - run.heartbeat_at < STALE_AFTER
            if fresh and _worker_alive(run.worker):
                raise ConflictError(
                    f"source {source_name!r} is being crawled by run {run.id} ({run.worker}); "
                    "wait for it or stop it"
                )
            run.status = "interrupted"
            run.finished_at = run.heartbeat_at or now
            run.message = "the crawl process stopped without finishing (killed or crashed)"
        run_id = session.scalar(insert(CrawlRun).values(source_id=source.id).returning(CrawlRun.id))
        assert run_id is not None
        return int(run_id)


def mark_running(engine: Engine, run_id: int) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id)
            .values(status="running", started_at=now, heartbeat_at=now, worker=this_worker())
        )


def record_progress(
    session: Session, run_id: int, counts: dict[str, int], errors: list[tuple[str, str]]
) -> None:
    """Add counts and errors to a run (inside the caller's transaction) and beat its heart."""
    values: dict[str, Any] = {"heartbeat_at": func.now()}
    for name, delta in counts.items():
        if delta:
            column = getattr(CrawlRun, f"pages_{name}")
            values[f"pages_{name}"] = column + delta
    session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(**values))
    if errors:
        session.execute(
            insert(CrawlError),
            [{"run_id": run_id, "url": url, "reason": reason[:2000]} for url, reason in errors],
        )


def finish_run(engine: Engine, run_id: int, status: str, message: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(CrawlRun)
            .where(CrawlRun.id == run_id, CrawlRun.status.in_(LIVE_STATUSES))
            .values(status=status, finished_at=func.now(), heartbeat_at=func.now(), message=message)
        )


def get_run(engine: Engine, run_id: int, *, error_limit: int = 50) -> RunView:
    with Session(engine) as session:
        row = session.execute(select(CrawlRun, Source.name).join(Source).where(CrawlRun.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"no crawl run {run_id}")
        run, source_name = row
        errors = session.execute(
            select(CrawlError.url, CrawlError.reason)
            .where(CrawlError.run_id == run_id)
            .order_by(CrawlError.id)
            .limit(error_limit)
        ).all()
        return _view(run, source_name, [(u, r) for u, r in errors])


def list_runs(
    engine: Engine, source_name: str | None = None, limit: int = 20, offset: int = 0
) -> list[RunView]:
    query = (
        select(CrawlRun, Source.name).join(Source).order_by(CrawlRun.id.desc()).limit(limit).offset(offset)
    )
    if source_name is not None:
        query = query.where(Source.name == source_name)
    with Session(engine) as session:
        return [_view(run, name, []) for run, name in session.execute(query).all()]


def count_runs(engine: Engine, source_name: str | None = None) -> int:
    query = select(func.count()).select_from(CrawlRun).join(Source)
    if source_name is not None:
        query = query.where(Source.name == source_name)
    with Session(engine) as session:
        return int(session.execute(query).scalar_one())


def _view(run: CrawlRun, source_name: str, errors: list[tuple[str, str]]) -> RunView:
    return RunView(
        id=run.id,
        source=source_name,
        status=run.status,
        started_at=run.started_at,
        finished_at=run.finished_at,
        counts={name: getattr(run, f"pages_{name}") for name in COUNTERS},
        message=run.message,
        errors=errors,
    )
