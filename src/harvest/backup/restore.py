"""`harvest backup restore`: into an empty data directory or database (or over one, with --force).

Order matters: the manifest and the key are checked, then the target (empty?), then every part is read
through and its SHA-256 checked — and only then is the target touched: each database dropped, created
and restored by pg_restore in one transaction (indexes, HNSW and full-text included, are rebuilt from
their definitions), the raw store reloaded with the same seq/version numbers, the objects put back,
statistics refreshed, and migrations applied if the backup is older than this Harvest.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from alembic.script import ScriptDirectory
from sqlalchemy import text

from harvest.backup.crypto import BackupKey, key_for_manifest
from harvest.backup.location import BackupLocation, open_location, referenced_objects_store
from harvest.backup.manifest import Manifest
from harvest.backup.parts import ProgressCallback, check_part, labelled, read_part
from harvest.backup.pgtools import (
    Database,
    database_exists,
    harvest_database,
    recreate_database,
    restore,
    user_tables,
)
from harvest.backup.rawlines import import_lines, parse_lines
from harvest.backup.runs import mark_restored
from harvest.db.engine import describe_url, dispose_engines, get_engine
from harvest.db.migrate import alembic_config, current_revision
from harvest.errors import ConflictError, HarvestError, InvalidInputError, StoreCorruptionError
from harvest.settings import Settings
from harvest.storage import ObjectStore, open_object_store, open_raw_store
from harvest.storage.object_store import CHUNK_SIZE

logger = logging.getLogger(__name__)

_INDEXES_USING = text("SELECT count(*) FROM pg_indexes WHERE indexdef LIKE :using")
# Tables a freshly migrated, never used database already has rows in.
_BOOKKEEPING = {"public.alembic_version"}


@dataclass(frozen=True)
class TargetState:
    database: str
    exists: bool
    rows: dict[str, bool]  # table → has rows (only tables that have)
    raw_versions: int
    object_conflicts: list[str]

    @property
    def empty(self) -> bool:
        return not self.rows and not self.raw_versions and not self.object_conflicts

    def describe(self) -> str:
        found = []
        if self.rows:
            tables = sorted(self.rows)
            found.append(
                f"rows in {len(tables)} tables ({', '.join(t.split('.', 1)[1] for t in tables[:4])}…)"
            )
        if self.raw_versions:
            found.append(f"{self.raw_versions} raw page versions")
        if self.object_conflicts:
            found.append(
                f"{len(self.object_conflicts)} objects with other content ({self.object_conflicts[0]}…)"
            )
        return "; ".join(found) or "empty"


@dataclass
class RestoreReport:
    manifest: Manifest
    location: str
    target: TargetState
    steps: list[str]
    dry_run: bool
    seconds: float = 0.0
    raw_versions: int = 0
    objects: int = 0
    revision: str | None = None
    indexes: dict[str, int] = field(default_factory=dict)


def _check_revision(manifest: Manifest) -> None:
    if manifest.schema_revision is None:
        return
    script = ScriptDirectory.from_config(alembic_config())
    try:
        known = script.get_revision(manifest.schema_revision) is not None
    except Exception:  # alembic raises its own errors for unknown ids
        known = False
    if not known:
        raise InvalidInputError(
            f"backup {manifest.id} has schema revision {manifest.schema_revision}, which this Harvest does "
            "not know (it was made by a newer Harvest); upgrade Harvest, then restore"
        )


def _check_present(location: BackupLocation, manifest: Manifest) -> None:
    """Every part there with the manifest's size (the cheap check; checksums follow)."""
    problems = []
    for part in manifest.parts:
        key = location.key(manifest.id, part.name)
        if not location.store.exists(key):
            problems.append(f"part {part.name} is missing")
        elif location.store.info(key).size != part.size:
            problems.append(f"part {part.name} has another size than the manifest says")
    if problems:
        raise StoreCorruptionError(f"backup {manifest.id} is damaged: {'; '.join(problems)}")


def inspect_target(settings: Settings, manifest: Manifest) -> TargetState:
    """What the restore would replace: rows in Harvest's (or MLflow's) database, raw page versions,
    objects under the same keys with other content."""
    database = harvest_database(settings)
    rows: dict[str, bool] = {}
    exists = database_exists(database, database.name)
    for dump in manifest.databases:
        target = database if dump.role == "harvest" else database.named(dump.database)
        if database_exists(target, target.name):
            rows |= _tables_with_rows(target, "" if dump.role == "harvest" else f"{target.name}:")
    raw_versions = 0
    if settings.raw_store_url is not None and settings.raw_store_url.startswith("mongodb"):
        with open_raw_store(settings) as raw:
            raw_versions = raw.count()
    store = open_object_store(settings)
    conflicts = []
    for entry in manifest.objects:
        if store.exists(entry.key) and store.info(entry.key).sha256 != entry.sha256:
            conflicts.append(entry.key)
    return TargetState(describe_url(database.url), exists, rows, raw_versions, conflicts)


def _tables_with_rows(database: Database, label: str) -> dict[str, bool]:
    from psycopg import sql

    found = {}
    with database.connect() as conn:
        for name in user_tables(conn):
            if name in _BOOKKEEPING:
                continue
            schema, table = name.split(".", 1)
            query = sql.SQL("SELECT EXISTS (SELECT 1 FROM {}.{})").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            row = conn.execute(query).fetchone()
            if row and row[0]:
                found[label + name] = True
    return found


def restore_backup(
    settings: Settings,
    backup_id: str,
    *,
    source: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    on_progress: ProgressCallback | None = None,
) -> RestoreReport:
    """Restore a backup into the database, raw store and object store the settings name; with `dry_run`,
    only check and plan. Raises before touching anything when the target is not empty (unless `force`)
    or any part fails its checksum."""
    started = time.monotonic()
    location = open_location(settings, source)
    manifest = location.resolve(backup_id)
    _check_revision(manifest)
    secret = settings.backup_encryption_key
    key = key_for_manifest(manifest.encryption, secret.get_secret_value() if secret else None, manifest.id)
    _check_present(location, manifest)
    objects_from = _objects_source(settings, location, manifest)
    target = inspect_target(settings, manifest)
    report = RestoreReport(
        manifest, location.description, target, _steps(settings, manifest, target), dry_run
    )
    if not target.empty and not force:
        raise ConflictError(
            f"the target is not empty ({target.describe()}); restore into an empty data directory or "
            "database, or pass --force to replace what is there"
        )
    if dry_run:
        return report
    # every checksum before anything is touched
    checking = labelled(on_progress, "check")
    for part in manifest.parts:
        check_part(location.store, location.key(manifest.id, part.name), part, key, checking)
    on_progress = labelled(on_progress, "load")
    if objects_from is not None:
        for entry in manifest.objects:
            _check_referenced(objects_from, entry.key, entry.sha256)
    _restore_databases(settings, location, manifest, key, on_progress)
    engine = get_engine(settings)  # applies the migrations newer than the backup
    report.raw_versions = _restore_raw(settings, location, manifest, key, on_progress)
    report.objects = _restore_objects(settings, location, manifest, key, objects_from, on_progress)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))  # planner statistics (and keyword ranking's estimates) are not dumped
        conn.commit()
        report.indexes = {
            method: int(conn.execute(_INDEXES_USING, {"using": f"%USING {method}%"}).scalar_one())
            for method in ("hnsw", "gin")
        }
    mark_restored(engine, manifest.id, manifest.finished_at, manifest.size)
    report.revision = current_revision(engine)
    report.seconds = time.monotonic() - started
    logger.info("restored backup", extra={"backup_id": manifest.id, "seconds": round(report.seconds, 1)})
    return report


def _steps(settings: Settings, manifest: Manifest, target: TargetState) -> list[str]:
    steps = [f"check the SHA-256 of {len(manifest.parts)} parts ({manifest.size} bytes)"]
    for dump in manifest.databases:
        name = target.database.rsplit("/", 1)[-1] if dump.role == "harvest" else dump.database
        rows = sum(dump.tables.values())
        steps.append(
            f"drop and re-create database {name!r}, pg_restore {len(dump.tables)} tables ({rows} rows)"
        )
    raw_target = (
        "MongoDB" if settings.raw_store_url and settings.raw_store_url.startswith("mongodb") else "PostgreSQL"
    )
    steps.append(f"load {manifest.raw.versions} raw page versions into the raw store ({raw_target})")
    if manifest.objects:
        steps.append(f"put back {len(manifest.objects)} objects ({manifest.objects_mode} in the backup)")
    steps.append("analyze the tables, migrate to this Harvest's schema if the backup is older")
    return steps


def _objects_source(settings: Settings, location: BackupLocation, manifest: Manifest) -> ObjectStore | None:
    if manifest.objects_mode != "referenced" or not manifest.objects:
        return None
    return referenced_objects_store(settings, location, manifest.origin.get("object_store", ""))


def _check_referenced(store: ObjectStore, key: str, sha256: str | None) -> None:
    digest = hashlib.sha256()
    try:
        with store.open(key) as reader:
            while chunk := reader.read(CHUNK_SIZE):
                digest.update(chunk)
    except HarvestError as error:
        raise StoreCorruptionError(f"referenced object {key} cannot be read back: {error.message}") from error
    if sha256 is not None and digest.hexdigest() != sha256:
        raise StoreCorruptionError(f"referenced object {key} has changed since the backup was taken")


def _restore_databases(
    settings: Settings,
    location: BackupLocation,
    manifest: Manifest,
    key: BackupKey | None,
    on_progress: ProgressCallback | None,
) -> None:
    database = harvest_database(settings)
    dispose_engines()  # our own pooled connections would keep the old database open
    for dump in manifest.databases:
        target = database if dump.role == "harvest" else database.named(dump.database)
        recreate_database(target)
        part = manifest.part(dump.part)
        restore(
            settings,
            target,
            read_part(location.store, location.key(manifest.id, part.name), part, key, on_progress),
        )


def _restore_raw(
    settings: Settings,
    location: BackupLocation,
    manifest: Manifest,
    key: BackupKey | None,
    on_progress: ProgressCallback | None,
) -> int:
    part = manifest.part(manifest.raw.part)
    with open_raw_store(settings) as raw:
        if raw.count():
            raw.clear()  # the target was checked empty (or --force): rows here are the dump's stale table
        chunks = read_part(location.store, location.key(manifest.id, part.name), part, key, on_progress)
        return import_lines(raw, parse_lines(chunks, part.name))


def _restore_objects(
    settings: Settings,
    location: BackupLocation,
    manifest: Manifest,
    key: BackupKey | None,
    objects_from: ObjectStore | None,
    on_progress: ProgressCallback | None,
) -> int:
    target = open_object_store(settings)
    restored = 0
    for entry in manifest.objects:
        if target.exists(entry.key) and target.info(entry.key).sha256 == entry.sha256:
            continue  # already there (restoring in place, or a referenced object in its own store)
        if entry.part is not None:
            part = manifest.part(entry.part)
            chunks = read_part(location.store, location.key(manifest.id, part.name), part, key, on_progress)
        else:
            assert objects_from is not None
            chunks = _read(objects_from, entry.key)
        with target.writer(entry.key) as writer:
            for chunk in chunks:
                writer.write(chunk)
            if entry.sha256 is not None and writer.sha256 != entry.sha256:
                raise StoreCorruptionError(
                    f"object {entry.key} from backup {manifest.id} does not match its checksum"
                )
        restored += 1
    return restored


def _read(store: ObjectStore, key: str) -> Iterator[bytes]:
    with store.open(key) as reader:
        while chunk := reader.read(CHUNK_SIZE):
            yield chunk
