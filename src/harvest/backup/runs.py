"""The record of backup runs (`backup_runs`), and the backup status `harvest status` and /api/health show."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy import Engine, RowMapping, insert, select, text, update

from harvest.db.models import BackupRun

# Held by a running backup on its snapshot connection (see pgtools.exported_snapshot).
BACKUP_LOCK_KEY = 0x6861727665737403

# A nightly backup that has not succeeded for this long is reported as overdue.
STALE_AFTER_S = 2 * 86_400


@dataclass(frozen=True)
class RunView:
    id: int
    backup_id: str | None
    location: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    size_bytes: int | None
    message: str | None


@dataclass(frozen=True)
class BackupHealth:
    """What an operator must see: did the last backup work, and when did one last succeed."""

    status: str  # ok | failed | running | never | stale
    last: RunView | None
    last_success: RunView | None
    schedule: str | None

    def to_json(self) -> dict[str, object]:
        def run(view: RunView | None) -> dict[str, object] | None:
            if view is None:
                return None
            return {
                "backup_id": view.backup_id,
                "status": view.status,
                "trigger": view.trigger,
                "location": view.location,
                "started_at": view.started_at.isoformat(),
                "finished_at": view.finished_at.isoformat() if view.finished_at else None,
                "size_bytes": view.size_bytes,
                "message": view.message,
            }

        return {
            "status": self.status,
            "schedule": self.schedule,
            "last": run(self.last),
            "last_success": run(self.last_success),
        }


def start_run(engine: Engine, location: str, trigger: str) -> int:
    """Record a new run; runs still marked running are interrupted ones (the caller holds the backup lock,
    so no other backup is running)."""
    with engine.begin() as conn:
        conn.execute(
            update(BackupRun)
            .where(BackupRun.status == "running")
            .values(status="interrupted", message="the backup process stopped before it finished")
        )
        return int(
            conn.execute(
                insert(BackupRun).values(location=location, trigger=trigger).returning(BackupRun.id)
            ).scalar_one()
        )


def finish_run(
    engine: Engine,
    run_id: int,
    status: str,
    *,
    backup_id: str | None = None,
    size_bytes: int | None = None,
    message: str | None = None,
) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(BackupRun)
            .where(BackupRun.id == run_id)
            .values(
                status=status,
                backup_id=backup_id,
                size_bytes=size_bytes,
                message=message,
                finished_at=datetime.now(UTC),
            )
        )


def set_backup_id(engine: Engine, run_id: int, backup_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(BackupRun).where(BackupRun.id == run_id).values(backup_id=backup_id))


def mark_restored(engine: Engine, backup_id: str, finished_at: datetime, size: int) -> None:
    """After a restore: the dump saw its own run as running; it succeeded (its manifest exists), and any
    other run caught mid-way by the dump never finished as far as this database knows."""
    with engine.begin() as conn:
        conn.execute(
            update(BackupRun)
            .where(BackupRun.backup_id == backup_id)
            .values(status="succeeded", finished_at=finished_at, size_bytes=size, message=None)
        )
        conn.execute(
            update(BackupRun)
            .where(BackupRun.status == "running")
            .values(status="interrupted", message="was running when the restored backup was taken")
        )


_COLUMNS = (
    BackupRun.id,
    BackupRun.backup_id,
    BackupRun.location,
    BackupRun.trigger,
    BackupRun.status,
    BackupRun.started_at,
    BackupRun.finished_at,
    BackupRun.size_bytes,
    BackupRun.message,
)


def _view(m: RowMapping) -> RunView:
    return RunView(
        m["id"],
        m["backup_id"],
        m["location"],
        m["trigger"],
        m["status"],
        m["started_at"],
        m["finished_at"],
        m["size_bytes"],
        m["message"],
    )


def recent_runs(engine: Engine, limit: int = 20) -> list[RunView]:
    with engine.connect() as conn:
        rows = conn.execute(select(*_COLUMNS).order_by(BackupRun.id.desc()).limit(limit)).all()
    return [_view(row._mapping) for row in rows]


def backup_health(engine: Engine, schedule: str | None, *, now: datetime | None = None) -> BackupHealth:
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        # a backup holds this advisory lock while it runs: a 'running' row without it was killed
        running = bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "AND ((classid::bigint << 32) | objid::bigint) = :key"
                ),
                {"key": BACKUP_LOCK_KEY},
            ).scalar()
        )
        last_row = conn.execute(select(*_COLUMNS).order_by(BackupRun.id.desc()).limit(1)).first()
        success_row = conn.execute(
            select(*_COLUMNS).where(BackupRun.status == "succeeded").order_by(BackupRun.id.desc()).limit(1)
        ).first()
    last = _view(last_row._mapping) if last_row else None
    success = _view(success_row._mapping) if success_row else None
    if last is None:
        status = "never"
    elif last.status == "running":
        status = "running" if running else "failed"
        if not running:
            last = replace(last, status="interrupted")
    elif last.status in ("failed", "interrupted"):
        status = "failed"
    else:
        status = "ok"
    if status == "ok" and schedule and success and (now - success.started_at).total_seconds() > STALE_AFTER_S:
        status = "stale"
    return BackupHealth(status, last, success, schedule)
