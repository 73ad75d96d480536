"""ObjectStore in a local directory (the embedded default: `<data dir>/objects`).

Each object is a file; its checksum sits in a sidecar under `.meta/`. Writes go to a temporary file that
is fsynced and renamed into place, so a crash never leaves a half-written object under its key.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from harvest.errors import DataDirError, NotFoundError
from harvest.storage.object_store import (
    CHUNK_SIZE,
    ChecksumReader,
    ObjectInfo,
    ObjectStore,
    ObjectWriter,
    Payload,
    check_key,
    check_prefix,
    spool_with_digest,
)

_META_DIR = ".meta"
_TMP_PREFIX = ".tmp-"


class LocalObjectStore(ObjectStore):
    backend = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            (root / _META_DIR).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DataDirError(
                f"object store directory {root} cannot be created ({error.strerror}); "
                "set HARVEST_OBJECT_STORE_URL or HARVEST_DATA_DIR to a writable place"
            ) from error

    @property
    def location(self) -> str:
        return str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def _meta_path(self, key: str) -> Path:
        return self.root / _META_DIR / (check_key(key) + ".json")

    def put(self, key: str, payload: Payload, *, content_type: str | None = None) -> ObjectInfo:
        path = self._path(key)
        meta_path = self._meta_path(key)
        source, digest, size = spool_with_digest(payload)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            data_tmp = _write_to_temporary(path, lambda out: shutil.copyfileobj(source, out, CHUNK_SIZE))
        finally:
            if source is not payload:  # a stream handed in by the caller stays the caller's to close
                source.close()
        meta = {"sha256": digest, "size": size, "content_type": content_type}
        meta_tmp = _write_to_temporary(meta_path, lambda out: out.write(json.dumps(meta).encode()))
        data_tmp.replace(path)
        meta_tmp.replace(meta_path)
        return ObjectInfo(key=key, size=size, sha256=digest, modified=_mtime(path))

    def writer(self, key: str, *, content_type: str | None = None) -> ObjectWriter:
        return _LocalWriter(self, key, content_type)

    def cleanup_incomplete(self, prefix: str = "", older_than_s: float = 86_400.0) -> int:
        check_prefix(prefix)
        cutoff = time.time() - older_than_s
        # a temporary file does not say which key it was for, only its directory
        within = prefix[: prefix.rfind("/") + 1]
        removed = 0
        for directory, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not (Path(directory) == self.root and d == _META_DIR)]
            for name in filenames:
                path = Path(directory) / name
                relative = path.parent.relative_to(self.root).as_posix()
                folder = "" if relative == "." else relative + "/"
                if not name.startswith(_TMP_PREFIX) or not folder.startswith(within):
                    continue
                try:
                    if path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except FileNotFoundError:
                    continue  # its writer finished meanwhile
        return removed

    def open(self, key: str) -> IO[bytes]:
        path = self._path(key)
        if not path.is_file():
            raise NotFoundError(f"no object {key!r} in {self.root}")
        expected = self._read_meta(key).get("sha256")
        reader = ChecksumReader(path.open("rb"), expected, key)
        return _buffered(reader)

    def info(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise NotFoundError(f"no object {key!r} in {self.root}")
        meta = self._read_meta(key)
        return ObjectInfo(key=key, size=path.stat().st_size, sha256=meta.get("sha256"), modified=_mtime(path))

    def list(self, prefix: str = "", *, checksums: bool = True) -> Iterator[ObjectInfo]:
        check_prefix(prefix)
        keys = []
        for directory, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not (Path(directory) == self.root and d == _META_DIR)]
            for name in filenames:
                if name.startswith(_TMP_PREFIX):
                    continue
                key = (Path(directory) / name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        for key in sorted(keys):
            yield self.info(key)

    def delete(self, key: str) -> bool:
        path = self._path(key)
        if not path.is_file():
            return False
        path.unlink()
        self._meta_path(key).unlink(missing_ok=True)
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _read_meta(self, key: str) -> dict[str, str]:
        try:
            meta = json.loads(self._meta_path(key).read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}


class _LocalWriter(ObjectWriter):
    """Writes into a temporary file beside the object; commit fsyncs it and renames it into place."""

    def __init__(self, store: LocalObjectStore, key: str, content_type: str | None) -> None:
        super().__init__(key)
        self.store = store
        self.content_type = content_type
        self.path = store._path(key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.store._meta_path(key).parent.mkdir(parents=True, exist_ok=True)
        self._file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by commit/abort
            dir=self.path.parent, prefix=_TMP_PREFIX, delete=False
        )

    def _write(self, data: bytes) -> None:
        self._file.write(data)

    def _commit(self, sha256: str) -> ObjectInfo:
        with self._file:
            self._file.flush()
            os.fsync(self._file.fileno())
        meta = {"sha256": sha256, "size": self.size, "content_type": self.content_type}
        meta_path = self.store._meta_path(self.key)
        meta_tmp = _write_to_temporary(meta_path, lambda out: out.write(json.dumps(meta).encode()))
        Path(self._file.name).replace(self.path)
        meta_tmp.replace(meta_path)
        return ObjectInfo(key=self.key, size=self.size, sha256=sha256, modified=_mtime(self.path))

    def _abort(self) -> None:
        self._file.close()
        Path(self._file.name).unlink(missing_ok=True)


def _write_to_temporary(path: Path, write: Callable[[IO[bytes]], object]) -> Path:
    """Write into a fsynced temporary file beside `path`; the caller renames it into place."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, kept on disk for the rename
        dir=path.parent, prefix=_TMP_PREFIX, delete=False
    )
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return Path(handle.name)


def _mtime(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


def _buffered(reader: ChecksumReader) -> IO[bytes]:
    return io.BufferedReader(reader, CHUNK_SIZE)
