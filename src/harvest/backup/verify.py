"""`harvest backup verify`: prove a backup restores, without touching Harvest's data.

Every part is read through and its SHA-256 compared with the manifest; each database dump is restored
into a scratch database on the same server (dropped afterwards) and its row counts compared table by
table; every raw page version is parsed and its body hashed against its content hash; every object is
read back and compared with its checksum.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field

from harvest.backup.crypto import BackupKey, key_for_manifest
from harvest.backup.location import BackupLocation, open_location, referenced_objects_store
from harvest.backup.manifest import Manifest
from harvest.backup.parts import ProgressCallback, check_part, labelled, read_part
from harvest.backup.pgtools import (
    count_rows,
    drop_database,
    harvest_database,
    recreate_database,
    restore,
    user_tables,
)
from harvest.backup.rawlines import parse_lines
from harvest.errors import HarvestError
from harvest.settings import Settings
from harvest.storage.object_store import CHUNK_SIZE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class VerifyReport:
    manifest: Manifest
    location: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def problems(self) -> list[Check]:
        return [check for check in self.checks if not check.ok]


def verify_backup(
    settings: Settings,
    backup_id: str,
    *,
    source: str | None = None,
    on_progress: ProgressCallback | None = None,
) -> VerifyReport:
    location = open_location(settings, source)
    manifest = location.resolve(backup_id)
    secret = settings.backup_encryption_key
    key = key_for_manifest(manifest.encryption, secret.get_secret_value() if secret else None, manifest.id)
    report = VerifyReport(manifest, location.description)
    intact: set[str] = set()
    checking = labelled(on_progress, "check")
    restoring = labelled(on_progress, "scratch restore")
    for part in manifest.parts:
        try:
            check_part(location.store, location.key(manifest.id, part.name), part, key, checking)
        except HarvestError as error:
            report.checks.append(Check(f"part {part.name}", False, error.message))
            continue
        intact.add(part.name)
        report.checks.append(
            Check(f"part {part.name}", True, f"sha256 {part.sha256[:12]}…, {part.size} bytes")
        )

    server = harvest_database(settings)
    for dump in manifest.databases:
        if dump.part not in intact:
            continue
        scratch = server.named(f"harvest_verify_{uuid.uuid4().hex[:12]}")
        part = manifest.part(dump.part)
        try:
            recreate_database(scratch)
            restore(
                settings,
                scratch,
                read_part(location.store, location.key(manifest.id, part.name), part, key, restoring),
            )
            with scratch.connect() as conn:
                counts = count_rows(conn, user_tables(conn))
        except HarvestError as error:
            report.checks.append(
                Check(f"database {dump.database}", False, f"does not restore: {error.message}")
            )
            continue
        finally:
            drop_database(scratch)
        for table in dump.excluded_data:
            counts.pop(table, None)
        wrong = [
            f"{table}: {counts.get(table)} rows, manifest {rows}"
            for table, rows in sorted(dump.tables.items())
            if counts.get(table) != rows
        ]
        detail = (
            "; ".join(wrong[:5])
            if wrong
            else f"restored: {len(counts)} tables, {sum(counts.values())} rows as in the manifest"
        )
        report.checks.append(Check(f"database {dump.database}", not wrong, detail))

    raw_part = manifest.part(manifest.raw.part)
    if raw_part.name in intact:
        try:
            chunks = read_part(location.store, location.key(manifest.id, raw_part.name), raw_part, key)
            versions = sum(1 for _ in parse_lines(chunks, raw_part.name))
            ok = versions == manifest.raw.versions
            detail = f"{versions} versions, every body matches its content hash" + (
                "" if ok else f"; manifest says {manifest.raw.versions}"
            )
            report.checks.append(Check("raw store", ok, detail))
        except HarvestError as error:
            report.checks.append(Check("raw store", False, error.message))

    report.checks.extend(_check_objects(settings, manifest, location, key, intact))
    logger.info("verified backup", extra={"backup_id": manifest.id, "ok": report.ok})
    return report


def _check_objects(
    settings: Settings, manifest: Manifest, location: BackupLocation, key: BackupKey | None, intact: set[str]
) -> list[Check]:
    if not manifest.objects:
        return []
    bad = []
    try:
        referenced = (
            referenced_objects_store(settings, location, manifest.origin.get("object_store", ""))
            if manifest.objects_mode == "referenced"
            else None
        )
    except HarvestError as error:
        return [Check("objects", False, error.message)]
    for entry in manifest.objects:
        digest = hashlib.sha256()
        try:
            if entry.part is not None:
                if entry.part not in intact:
                    continue  # already reported with its part
                part = manifest.part(entry.part)
                for chunk in read_part(location.store, location.key(manifest.id, part.name), part, key):
                    digest.update(chunk)
            else:
                assert referenced is not None
                with referenced.open(entry.key) as reader:
                    while chunk := reader.read(CHUNK_SIZE):
                        digest.update(chunk)
        except HarvestError as error:
            bad.append(f"{entry.key}: {error.message}")
            continue
        if entry.sha256 is not None and digest.hexdigest() != entry.sha256:
            bad.append(f"{entry.key}: content differs from the backup's checksum")
    detail = (
        "; ".join(bad[:5])
        if bad
        else f"{len(manifest.objects)} objects ({manifest.objects_mode}) read back intact"
    )
    return [Check("objects", not bad, detail)]
