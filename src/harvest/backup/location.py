"""Where backups live: `backups/` in Harvest's own object store (the default), or another store named by
`--to`/`--from` or HARVEST_BACKUP_URL (`s3://bucket/prefix` with the HARVEST_S3_* credentials, or a
directory). Each backup is a prefix named after its UTC start time, e.g. `20261125T030000Z/`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from harvest.backup.manifest import MANIFEST_NAME, Manifest
from harvest.errors import InvalidInputError, NotFoundError
from harvest.settings import Settings
from harvest.storage import ObjectStore, open_object_store

DEFAULT_PREFIX = "backups/"
_ID = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")


@dataclass(frozen=True)
class BackupSummary:
    id: str
    created_at: datetime
    complete: bool
    size: int
    parts: int
    manifest: Manifest | None


@dataclass
class BackupLocation:
    store: ObjectStore
    prefix: str
    # True when the backups sit inside Harvest's own object store: its objects are then referenced by
    # the manifest instead of copied.
    inside_object_store: bool

    @property
    def description(self) -> str:
        base = self.store.location
        if self.store.backend == "local":
            return str(Path(base) / self.prefix) if self.prefix else base
        return base + self.prefix

    def key(self, backup_id: str, name: str = "") -> str:
        return f"{self.prefix}{backup_id}/{name}"

    def list_backups(self) -> list[BackupSummary]:
        """Every backup, oldest first; incomplete ones (no manifest: killed, failed, or still running)
        are listed as such."""
        grouped: dict[str, list[tuple[str, int]]] = {}
        for info in self.store.list(self.prefix, checksums=False):
            backup_id, _, rest = info.key[len(self.prefix) :].partition("/")
            if _ID.match(backup_id) and rest:
                grouped.setdefault(backup_id, []).append((rest, info.size))
        summaries = []
        for backup_id, files in sorted(grouped.items()):
            manifest = None
            if any(name == MANIFEST_NAME for name, _ in files):
                manifest = self.load_manifest(backup_id)
            summaries.append(
                BackupSummary(
                    id=backup_id,
                    created_at=backup_time(backup_id),
                    complete=manifest is not None,
                    size=manifest.size if manifest else sum(size for _, size in files),
                    parts=len(files) - (1 if manifest else 0),
                    manifest=manifest,
                )
            )
        return summaries

    def load_manifest(self, backup_id: str) -> Manifest:
        key = self.key(check_id(backup_id), MANIFEST_NAME)
        if not self.store.exists(key):
            if any(True for _ in self.store.list(self.key(backup_id), checksums=False)):
                raise NotFoundError(
                    f"backup {backup_id} in {self.description} is incomplete (no manifest): it was "
                    "interrupted or failed, or is still running; it cannot be used"
                )
            raise NotFoundError(f"no backup {backup_id} in {self.description} (see `harvest backup list`)")
        return Manifest.loads(self.store.get(key), backup_id)

    def resolve(self, backup_id: str) -> Manifest:
        """The manifest of a backup by id, or of the newest complete one for `latest`."""
        if backup_id != "latest":
            return self.load_manifest(backup_id)
        complete = [s for s in self.list_backups() if s.manifest is not None]
        if not complete:
            raise NotFoundError(f"no complete backup in {self.description}")
        manifest = complete[-1].manifest
        assert manifest is not None
        return manifest

    def new_id(self, now: datetime | None = None) -> str:
        base = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        candidate, n = base, 1
        while any(True for _ in self.store.list(self.key(candidate), checksums=False)):
            n += 1
            candidate = f"{base}-{n}"
        return candidate

    def delete_backup(self, backup_id: str) -> int:
        """Delete a backup's objects, the manifest first: a half-deleted backup is never 'complete'."""
        keys = [info.key for info in self.store.list(self.key(check_id(backup_id)), checksums=False)]
        manifest_key = self.key(backup_id, MANIFEST_NAME)
        ordered = sorted(keys, key=lambda k: k != manifest_key)
        for key in ordered:
            self.store.delete(key)
        return len(ordered)


def check_id(backup_id: str) -> str:
    if not _ID.match(backup_id):
        raise InvalidInputError(
            f"{backup_id!r} is not a backup id (like 20261125T030000Z; see `harvest backup list`)"
        )
    return backup_id


def backup_time(backup_id: str) -> datetime:
    return datetime.strptime(backup_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def open_location(settings: Settings, url: str | None = None, *, create: bool = False) -> BackupLocation:
    """The backup location `url` names (else HARVEST_BACKUP_URL, else `backups/` in the object store);
    a directory is made only when `create` (a backup is written), else it must exist."""
    url = url or settings.backup_url
    if not url:
        return BackupLocation(open_object_store(settings), DEFAULT_PREFIX, inside_object_store=True)
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise InvalidInputError(f"{url!r}: an S3 location needs a bucket (s3://BUCKET/prefix)")
        from harvest.storage.objects_s3 import S3ObjectStore

        s3 = open_object_store(settings, url)
        assert isinstance(s3, S3ObjectStore)
        s3.check_bucket()
        return BackupLocation(s3, "", inside_object_store=False)
    if parts.scheme not in {"", "file"}:
        raise InvalidInputError(f"{url!r}: a backup location is s3://BUCKET/prefix or a directory")
    from harvest.storage.objects_local import LocalObjectStore

    path = (Path(unquote(parts.path)) if parts.scheme == "file" else Path(url)).expanduser().absolute()
    if not create and not path.is_dir():
        raise NotFoundError(f"no backup directory {path}")
    root, prefix = _local_store_root(path)
    return BackupLocation(LocalObjectStore(root), prefix, inside_object_store=False)


def _local_store_root(path: Path) -> tuple[Path, str]:
    """A directory inside a local object store (e.g. `<data dir>/objects/backups`) is read through that
    store, whose checksums live at its root; any other directory is a store of its own."""
    for parent in path.parents:
        relative = path.relative_to(parent).as_posix()
        if (parent / ".meta" / relative).is_dir():
            return parent, relative + "/"
    return path, ""


def referenced_objects_store(settings: Settings, location: BackupLocation, origin: str) -> ObjectStore:
    """Where a backup's referenced objects are: the object store the backup was taken from (`origin`, as
    the manifest records it) — the current one, the backup's own store, or that location reopened."""
    current = open_object_store(settings)
    if current.location == origin:
        return current
    if location.inside_object_store and location.store.location == origin:
        return location.store
    if origin.startswith("s3://"):
        return open_location(settings, origin, create=False).store
    path = Path(origin)
    if not path.is_dir():
        raise NotFoundError(
            f"the objects this backup references are in {origin}, which is not reachable from here"
        )
    from harvest.storage.objects_local import LocalObjectStore

    return LocalObjectStore(path)
