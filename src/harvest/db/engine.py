"""Connections to PostgreSQL: the embedded server or `HARVEST_DATABASE_URL`, migrated on first use."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import psycopg
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

from harvest.db.embedded import EmbeddedPostgres
from harvest.errors import ConfigError, StoreUnavailableError
from harvest.settings import Settings

logger = logging.getLogger(__name__)


# Data directories whose embedded server this process has used: a long-running process (API, worker,
# `harvest up`) never starts it again once it has been stopped under it (`harvest db stop` is the user's
# decision); it answers "unavailable" until someone starts it.
_used_servers: set[Path] = set()


def server_url(settings: Settings, *, start: bool | None = None) -> URL:
    """The SQLAlchemy URL of Harvest's database. The embedded server is started when `start` is True,
    or (by default) on first use in this process if HARVEST_DATABASE_AUTOSTART allows it."""
    if settings.database_url is not None:
        try:
            url = make_url(settings.database_url)
        except Exception as error:
            raise ConfigError(f"HARVEST_DATABASE_URL is not a valid URL: {error}") from error
        return url.set(drivername="postgresql+psycopg")
    server = EmbeddedPostgres(settings.data_dir, settings.embedded_shared_buffers_mb)
    if start is None:
        start = settings.database_autostart and settings.data_dir not in _used_servers
    state = server.start() if start else server.state()
    if not state.running:
        stopped_under_us = settings.data_dir in _used_servers
        raise StoreUnavailableError(
            "the embedded PostgreSQL is not running" + (" (it was stopped)" if stopped_under_us else ""),
            hint="start it with `harvest db start`",
        )
    _used_servers.add(settings.data_dir)
    return make_url(state.uri(settings.database_name)).set(drivername="postgresql+psycopg")


def describe_url(url: URL) -> str:
    """Where a URL points, for messages (never the password)."""
    host = url.query.get("host") or url.host or "localhost"
    return f"{url.username or ''}@{host}:{url.port or 5432}/{url.database}"


def _connect_failure(url: URL, error: Exception, settings: Settings) -> StoreUnavailableError:
    first_line = str(getattr(error, "orig", error)).strip().splitlines()[0] if str(error).strip() else ""
    setting = "HARVEST_DATABASE_URL" if settings.database_url else "the embedded server"
    return StoreUnavailableError(
        f"cannot connect to PostgreSQL at {describe_url(url)} ({setting}): {first_line}"
    )


def ensure_database(url: URL, settings: Settings) -> None:
    """Create the database if the server lacks it (embedded: always; production: if we may)."""
    admin = url.set(database="postgres").render_as_string(hide_password=False).replace("+psycopg", "")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=int(settings.connect_timeout_s)) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,)).fetchone()
            if exists is None:
                try:
                    conn.execute(f'CREATE DATABASE "{url.database}"')
                    logger.info("created database", extra={"database": url.database})
                except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
                    pass  # a concurrent command created it first
    except psycopg.errors.InsufficientPrivilege as error:
        raise StoreUnavailableError(
            f"database {url.database!r} does not exist and this user may not create it; create it first"
        ) from error
    except psycopg.OperationalError as error:
        raise _connect_failure(url, error, settings) from error


def make_engine(url: URL, settings: Settings) -> Engine:
    engine = create_engine(
        url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": int(settings.connect_timeout_s)},
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as error:
        engine.dispose()
        raise _connect_failure(url, error, settings) from error
    return engine


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(settings: Settings, *, start: bool | None = None, migrate: bool = True) -> Engine:
    """A pooled engine on Harvest's database, started and migrated to head (once per process and URL).
    `start`: see `server_url`. `migrate=False`: for a child process whose parent has migrated already
    (it spares the child Alembic's import and the check)."""
    url = server_url(settings, start=start)
    key = url.render_as_string(hide_password=False)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            if settings.embedded_database:
                ensure_database(url, settings)
            engine = make_engine(url, settings)
            if migrate:
                from harvest.db.migrate import upgrade

                upgrade(engine)
            _engines[key] = engine
        return engine


def dispose_engines() -> None:
    """Close every pooled connection (before stopping the embedded server, and in tests)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
