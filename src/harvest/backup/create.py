"""`harvest backup create`: PostgreSQL (and MLflow's database), the raw store and the objects, streamed
part by part into the backup location; the manifest last, so only a finished backup is ever complete."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import cast

from harvest import __version__
from harvest.backup.crypto import BackupKey
from harvest.backup.location import DEFAULT_PREFIX, BackupLocation, open_location
from harvest.backup.manifest import MANIFEST_NAME, DatabaseDump, Manifest, ObjectEntry, RawExport
from harvest.backup.parts import PartRecord, PartWriter, ProgressCallback, RateLimit
from harvest.backup.pgtools import (
    Database,
    Snapshot,
    count_rows,
    database_exists,
    dump,
    exported_snapshot,
    harvest_database,
    run_in_thread,
    user_tables,
)
from harvest.backup.rawlines import export_lines
from harvest.backup.runs import finish_run, set_backup_id, start_run
from harvest.db.engine import describe_url, get_engine
from harvest.db.migrate import current_revision
from harvest.settings import Settings
from harvest.storage import open_object_store, open_raw_store
from harvest.storage.object_store import CHUNK_SIZE

logger = logging.getLogger(__name__)

MLFLOW_DATABASE = "mlflow"
HARVEST_PART = "harvest.pgdump.zst"
MLFLOW_PART = "mlflow.pgdump.zst"
RAW_PART = "raw_pages.jsonl.zst"
RAW_TABLE = "public.raw_pages"
# Never part of a backup: the health probe, and (when backups live in the object store) the backups.
_SKIPPED_OBJECTS = ("_health/",)


class _Writer:
    """Makes the parts of one backup: names → keys, compression, encryption, rate limit, progress."""

    def __init__(
        self,
        settings: Settings,
        location: BackupLocation,
        backup_id: str,
        key: BackupKey | None,
        on_progress: ProgressCallback | None,
    ) -> None:
        self.settings, self.location, self.backup_id, self.key = settings, location, backup_id, key
        self.on_progress = on_progress
        self.limit = RateLimit(settings.backup_max_mbps)
        self.parts: list[PartRecord] = []

    def part(self, name: str, *, compress: bool = True) -> PartWriter:
        writer = self.location.store.writer(self.location.key(self.backup_id, name))
        level = self.settings.backup_compression_level if compress else None
        return PartWriter(
            writer, name, key=self.key, compress_level=level, limit=self.limit, on_progress=self.on_progress
        )

    def keep(self, record: PartRecord) -> PartRecord:
        self.parts.append(record)
        return record


def create_backup(
    settings: Settings,
    *,
    to: str | None = None,
    trigger: str = "manual",
    on_progress: ProgressCallback | None = None,
) -> Manifest:
    """Make a backup and return its manifest. A failure (or Ctrl-C) leaves no manifest, aborts the part
    being written and records the run as failed — `harvest status` and /api/health show it."""
    engine = get_engine(settings)
    database = harvest_database(settings)
    secret = settings.backup_encryption_key
    key = BackupKey.derive(secret.get_secret_value()) if secret else None
    started = datetime.now(UTC)
    target = to or settings.backup_url or f"{DEFAULT_PREFIX} in the object store"
    with exported_snapshot(database, lock=True) as snapshot:
        # recorded first: a backup that cannot even reach its location is a failed backup to see
        run_id = start_run(engine, target, trigger)
        try:
            location = open_location(settings, to, create=True)
            backup_id = location.new_id(started)
            set_backup_id(engine, run_id, backup_id)
            logger.info("backup started", extra={"backup_id": backup_id, "location": location.description})
            writer = _Writer(settings, location, backup_id, key, on_progress)
            databases = [_dump_harvest(settings, database, snapshot, writer)]
            raw = _export_raw(settings, writer)
            if database_exists(database, MLFLOW_DATABASE):
                databases.append(_dump_other(settings, database.named(MLFLOW_DATABASE), "mlflow", writer))
            mode, objects = _objects(settings, location, writer)
            manifest = Manifest(
                id=backup_id,
                harvest_version=__version__,
                schema_revision=current_revision(engine),
                started_at=started,
                finished_at=datetime.now(UTC),
                trigger=trigger,
                origin={
                    "database": describe_url(database.url),
                    "raw_store": raw.backend,
                    "object_store": open_object_store(settings).location,
                },
                encryption=key.describe() if key else None,
                databases=databases,
                raw=raw,
                objects_mode=mode,
                objects=objects,
                parts=writer.parts,
            )
            # last: until this object exists, the backup is incomplete for `list`, `verify` and `restore`
            location.store.put(
                location.key(backup_id, MANIFEST_NAME), manifest.dumps(), content_type="application/json"
            )
        except BaseException as error:
            interrupted = isinstance(error, KeyboardInterrupt | SystemExit)
            message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
            finish_run(engine, run_id, "interrupted" if interrupted else "failed", message=message[:2000])
            logger.warning("backup failed: %s", message, extra={"location": target})
            raise
        finish_run(engine, run_id, "succeeded", backup_id=backup_id, size_bytes=manifest.size)
    logger.info(
        "backup finished",
        extra={
            "backup_id": backup_id,
            "bytes": manifest.size,
            "seconds": (manifest.finished_at - started).total_seconds(),
        },
    )
    return manifest


def _dump_harvest(
    settings: Settings, database: Database, snapshot: Snapshot, writer: _Writer
) -> DatabaseDump:
    """Harvest's database in the snapshot the row counts are taken in. raw_pages' rows go to the raw
    export instead when it is the raw store (backend-neutral, and not stored twice)."""
    snap_conn = snapshot.conn
    excluded = (
        [RAW_TABLE]
        if settings.raw_store_url is None or not settings.raw_store_url.startswith("mongodb")
        else []
    )
    version_row = snap_conn.execute("SHOW server_version").fetchone()
    counting = run_in_thread(lambda: count_rows(snap_conn, user_tables(snap_conn)))
    with writer.part(HARVEST_PART) as part:
        dump(settings, database, part.write, snapshot=snapshot.id, exclude_table_data=excluded)
        record = writer.keep(part.finish())
    tables = cast(dict[str, int], counting())
    snapshot.release()  # the lock stays; the old snapshot no longer holds back vacuum
    for table in excluded:
        tables.pop(table, None)
    return DatabaseDump(
        role="harvest",
        database=database.name,
        part=record.name,
        tables=tables,
        excluded_data=excluded,
        server_version=str(version_row[0]) if version_row else "",
    )


def _dump_other(settings: Settings, database: Database, role: str, writer: _Writer) -> DatabaseDump:
    with exported_snapshot(database) as snapshot:
        version_row = snapshot.conn.execute("SHOW server_version").fetchone()
        counting = run_in_thread(lambda: count_rows(snapshot.conn, user_tables(snapshot.conn)))
        with writer.part(MLFLOW_PART if role == "mlflow" else f"{role}.pgdump.zst") as part:
            dump(settings, database, part.write, snapshot=snapshot.id)
            record = writer.keep(part.finish())
        tables = cast(dict[str, int], counting())
    return DatabaseDump(
        role=role,
        database=database.name,
        part=record.name,
        tables=tables,
        server_version=str(version_row[0]) if version_row else "",
    )


def _export_raw(settings: Settings, writer: _Writer) -> RawExport:
    with open_raw_store(settings) as raw, writer.part(RAW_PART) as part:
        versions = export_lines(raw, part.write)
        writer.keep(part.finish())
        return RawExport(raw.backend, RAW_PART, versions)


def _objects(settings: Settings, location: BackupLocation, writer: _Writer) -> tuple[str, list[ObjectEntry]]:
    """The object store's artifacts and snapshots: referenced when the backup lives in that same store,
    else copied (as they are: already compressed formats, encrypted when a key is set)."""
    store = open_object_store(settings)
    skipped = _SKIPPED_OBJECTS + ((location.prefix,) if location.inside_object_store else ())
    items = [info for info in store.list() if not info.key.startswith(skipped)]
    if location.inside_object_store:
        return "referenced", [ObjectEntry(info.key, info.size, info.sha256) for info in items]
    entries = []
    for info in items:
        with writer.part(f"objects/{info.key}", compress=False) as part, store.open(info.key) as source:
            while chunk := source.read(CHUNK_SIZE):
                part.write(chunk)
            record = writer.keep(part.finish())
        entries.append(ObjectEntry(info.key, info.size, info.sha256, record.name))
    return "copied", entries
