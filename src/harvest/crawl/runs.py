"""Crawl runs in PostgreSQL: one row per run with status, counts, heartbeat and per-page errors."""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from harvest.db.models import CrawlError, CrawlRun, Source
from harvest.errors import ConflictError, NotFoundError

COUNTERS = ("fetched", "new", "changed", "unchanged", "gone", "failed", "robots_skipped", "not_due")
LIVE_STATUSES = ("queued", "running")
# A run that reached its end: "partial" is a run where some pages failed but others were fetched.
FINISHED_STATUSES = ("succeeded", "partial")
# Advisory lock namespace ("harv") of "a process is crawling source N"; see create_run.
_LOCK_NAMESPACE = 0x68617276 << 32

# The connections holding the "crawling" lock of the runs this process created (until release_run).
_claims: dict[int, Connection] = {}
_claims_lock = threading.Lock()


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
    limits: dict[str, Any] = field(default_factory=dict)

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.finished_at or datetime.now(UTC)
        return max((end - self.started_at).total_seconds(), 0.0)


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def crawl_lock_key(source_id: int) -> int:
    return _LOCK_NAMESPACE | source_id


def create_run(engine: Engine, source_name: str, *, full: bool = False) -> int:
    """A queued run for a source, or ConflictError naming the run that crawls it now.

    "Crawls it now" is not a guess from heartbeats: every process working on a run (the one that
    created it, and the crawl process) holds a shared PostgreSQL advisory lock on the source for as long
    as it lives. A live row whose lock nobody holds belongs to processes that died: it is closed as
    interrupted. A partial unique index allows one live run per source whatever happens. `full`: the
    run asks for every known page, due or not."""
    conn = engine.connect()
    try:
        with conn.begin():
            source_id = conn.scalar(select(Source.id).where(Source.name == source_name).with_for_update())
            if source_id is None:
                raise NotFoundError(f"no source named {source_name!r}", hint="see `harvest source list`")
            key = crawl_lock_key(source_id)
            live = conn.execute(
                select(CrawlRun.id, CrawlRun.status, CrawlRun.worker)
                .where(CrawlRun.source_id == source_id, CrawlRun.status.in_(LIVE_STATUSES))
                .order_by(CrawlRun.id)
            ).all()
            if live and not conn.scalar(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}):
                run = live[0]
                raise ConflictError(
                    f"source {source_name!r} is already being crawled by run {run.id} ({run.status}"
                    + (f", {run.worker}" if run.worker else "")
                    + "); wait for it to end or stop it",
                    hint=f"see `harvest runs show {run.id}`",
                )
            if live:
                conn.execute(
                    update(CrawlRun)
                    .where(CrawlRun.id.in_([run.id for run in live]))
                    .values(
                        status="interrupted",
                        finished_at=func.coalesce(CrawlRun.heartbeat_at, func.now()),
                        message="the crawl process stopped without finishing (killed or crashed)",
                    )
                )
            try:
                with conn.begin_nested():
                    run_id = conn.scalar(
                        insert(CrawlRun)
                        .values(source_id=source_id, worker=this_worker(), heartbeat_at=func.now(), full=full)
                        .returning(CrawlRun.id)
                    )
            except IntegrityError as error:  # the one-live-run index: another process won the race
                raise ConflictError(f"source {source_name!r} is already being crawled") from error
            # session-level: outlives this transaction, released by release_run or by the process dying
            conn.execute(text("SELECT pg_advisory_lock_shared(:key)"), {"key": key})
    except BaseException:
        conn.invalidate()  # a lock taken before the error dies with the connection
        conn.close()
        raise
    assert run_id is not None
    with _claims_lock:
        _claims[int(run_id)] = conn
    return int(run_id)


def release_run(run_id: int) -> None:
    """Give up this process's claim on a run (after it finished, or when handing it over failed)."""
    with _claims_lock:
        conn = _claims.pop(run_id, None)
    if conn is not None:
        release_crawl_lock(conn)


def release_crawl_lock(conn: Connection) -> None:
    try:
        conn.execute(text("SELECT pg_advisory_unlock_all()"))
        conn.commit()
        conn.close()
    except SQLAlchemyError:
        conn.invalidate()  # closing the connection ends its session, and the lock with it
        conn.close()


def hold_crawl_lock(engine: Engine, source_id: int) -> Connection:
    """For the crawl process: the same claim, held until the process exits (or the connection closes),
    so a run whose starter died is still live while its crawl process writes its last pages."""
    conn = engine.connect()
    conn.execute(text("SELECT pg_advisory_lock_shared(:key)"), {"key": crawl_lock_key(source_id)})
    conn.commit()
    return conn


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


def record_not_due(engine: Engine, run_id: int, count: int) -> None:
    """Known pages the run did not ask for because they were not due (harvest.crawl.revisit)."""
    with engine.begin() as conn:
        conn.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(pages_not_due=count))


def finish_run(
    engine: Engine,
    run_id: int,
    status: str,
    message: str | None = None,
    *,
    limits: dict[str, Any] | None = None,
) -> None:
    """Close a live run (a run closed already keeps its status) and give up this process's claim."""
    values: dict[str, Any] = {
        "status": status,
        "finished_at": func.now(),
        "heartbeat_at": func.now(),
        "message": message,
    }
    if limits is not None:
        values["limits"] = limits
    try:
        with engine.begin() as conn:
            conn.execute(
                update(CrawlRun)
                .where(CrawlRun.id == run_id, CrawlRun.status.in_(LIVE_STATUSES))
                .values(**values)
            )
    finally:
        release_run(run_id)


def verdict(view: RunView) -> tuple[str, str | None]:
    """The status of a crawl that ran to its end, and the message that explains it.

    Nothing fetched (every start URL failed, was refused, disallowed or gone) is a failure that names
    the first reasons; some pages failed is `partial` (the pages that worked are kept and processed)."""
    counts = view.counts
    retrieved = counts["new"] + counts["changed"] + counts["unchanged"]
    details = f"`harvest runs show {view.id}`"
    if retrieved == 0:
        kinds = [
            f"{counts[name]} {label}"
            for name, label in (
                ("failed", "failed"),
                ("robots_skipped", "disallowed by robots.txt"),
                ("gone", "gone (HTTP 404/410)"),
            )
            if counts[name]
        ]
        if not kinds:
            return "failed", "nothing was crawled: no start URL or sitemap entry led to a page"
        first = "; ".join(f"{url}: {reason}" for url, reason in view.errors[:3])
        return "failed", f"no page could be fetched ({', '.join(kinds)})" + (f": {first}" if first else "")
    if counts["failed"]:
        total = counts["fetched"] + counts["failed"]
        return "partial", f"{counts['failed']} of {total} pages failed (reasons: {details})"
    return "succeeded", None


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
        limits=dict(run.limits or {}),
    )
