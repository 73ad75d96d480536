"""`harvest backup prune`: keep the newest complete backup of each of the last N days and of each of the
last M ISO weeks that have backups (the grandfather-father-son rule of restic and borg); delete the
other complete backups, and incomplete ones (killed, failed) older than a day, plus unfinished uploads."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from harvest.backup.location import BackupSummary, open_location
from harvest.errors import InvalidInputError
from harvest.settings import Settings

logger = logging.getLogger(__name__)

INCOMPLETE_GRACE = timedelta(days=1)  # an incomplete backup younger than this may still be running


@dataclass(frozen=True)
class PruneReport:
    location: str
    kept: list[BackupSummary]
    removed: list[BackupSummary]
    reasons: dict[str, str]  # kept id → why (daily 2026-11-25, weekly 2026-W48)
    uploads_cleaned: int
    dry_run: bool


def select(
    backups: list[BackupSummary], keep_daily: int, keep_weekly: int, now: datetime
) -> tuple[dict[str, str], list[BackupSummary]]:
    """(ids kept with the reason, backups to remove). Pure: the rule, testable without a store."""
    complete = sorted((b for b in backups if b.complete), key=lambda b: b.id, reverse=True)
    kept: dict[str, str] = {}
    for rule, limit, bucket in (
        ("daily", keep_daily, lambda b: b.created_at.strftime("%Y-%m-%d")),
        ("weekly", keep_weekly, lambda b: "{}-W{:02d}".format(*b.created_at.isocalendar()[:2])),
    ):
        seen: list[str] = []
        for backup in complete:  # newest first: the first one seen in a bucket is its newest
            name = bucket(backup)
            if name in seen:
                continue
            if len(seen) >= limit:
                break
            seen.append(name)
            kept.setdefault(backup.id, f"{rule} {name}")
    removed = [b for b in complete if b.id not in kept]
    removed += [b for b in backups if not b.complete and now - b.created_at > INCOMPLETE_GRACE]
    return kept, sorted(removed, key=lambda b: b.id)


def prune_backups(
    settings: Settings,
    *,
    source: str | None = None,
    keep_daily: int | None = None,
    keep_weekly: int | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> PruneReport:
    daily = settings.backup_keep_daily if keep_daily is None else keep_daily
    weekly = settings.backup_keep_weekly if keep_weekly is None else keep_weekly
    if daily <= 0 and weekly <= 0:
        raise InvalidInputError(
            "keeping 0 daily and 0 weekly backups would delete them all; keep at least one"
        )
    location = open_location(settings, source)
    backups = location.list_backups()
    kept_ids, removed = select(backups, daily, weekly, now or datetime.now(UTC))
    cleaned = 0
    if not dry_run:
        for backup in removed:
            location.delete_backup(backup.id)
            logger.info("pruned backup", extra={"backup_id": backup.id, "complete": backup.complete})
        cleaned = location.store.cleanup_incomplete(location.prefix, INCOMPLETE_GRACE.total_seconds())
    kept = [b for b in backups if b.id in kept_ids]
    return PruneReport(location.description, kept, removed, kept_ids, cleaned, dry_run)
