"""Backups: PostgreSQL (+ MLflow's database), the raw store and the objects, streamed to a store and
verified; restore into an empty Harvest; retention; the status operators watch.

Interfaces use these functions only (see ARCHITECTURE.md's layers)."""

from __future__ import annotations

from harvest.backup.create import create_backup
from harvest.backup.crypto import generate_key
from harvest.backup.location import BackupLocation, BackupSummary, open_location
from harvest.backup.manifest import Manifest
from harvest.backup.restore import RestoreReport, restore_backup
from harvest.backup.retention import PruneReport, prune_backups
from harvest.backup.runs import BackupHealth, RunView, backup_health, recent_runs
from harvest.backup.verify import VerifyReport, verify_backup
from harvest.settings import Settings

__all__ = [
    "BackupHealth",
    "BackupLocation",
    "BackupSummary",
    "Manifest",
    "PruneReport",
    "RestoreReport",
    "RunView",
    "VerifyReport",
    "backup_status",
    "create_backup",
    "generate_key",
    "list_backups",
    "open_location",
    "prune_backups",
    "recent_runs",
    "restore_backup",
    "verify_backup",
]


def list_backups(settings: Settings, source: str | None = None) -> tuple[str, list[BackupSummary]]:
    location = open_location(settings, source)
    return location.description, location.list_backups()


def backup_status(settings: Settings) -> BackupHealth:
    """The latest backup run and the latest success, from Harvest's database (no store is contacted)."""
    from harvest.db.engine import get_engine

    return backup_health(get_engine(settings), settings.backup_cron)
