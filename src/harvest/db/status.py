"""What `harvest db status` reports: where the database is, which server, extensions, size, revision."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text

from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import describe_url, get_engine, server_url
from harvest.db.migrate import current_revision, head_revision
from harvest.settings import Settings


@dataclass(frozen=True)
class DatabaseStatus:
    mode: str  # "embedded" or "external"
    running: bool
    url: str = ""
    server_version: str = ""
    extensions: dict[str, str] = field(default_factory=dict)
    size_bytes: int = 0
    revision: str | None = None
    head: str | None = None
    pgdata: str = ""
    pid: int | None = None


def database_status(settings: Settings) -> DatabaseStatus:
    """Status without starting anything: a stopped embedded server is reported as stopped."""
    mode = "embedded" if settings.embedded_database else "external"
    pgdata = str(settings.pgdata_dir) if settings.embedded_database else ""
    pid = None
    if settings.embedded_database:
        server = EmbeddedPostgres(settings.data_dir)
        server.prepare_data_dir()
        state = server.state()
        if not state.running:
            return DatabaseStatus(mode=mode, running=False, pgdata=pgdata, head=head_revision())
        pid = state.pid
    url = server_url(settings, start=False)
    engine = get_engine(settings)
    with engine.connect() as conn:
        version = conn.execute(text("SHOW server_version")).scalar_one()
        extensions: dict[str, str] = dict(
            conn.execute(text("SELECT extname, extversion FROM pg_extension")).all()
        )
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    extensions.pop("plpgsql", None)
    return DatabaseStatus(
        mode=mode,
        running=True,
        url=describe_url(url),
        server_version=str(version),
        extensions=extensions,
        size_bytes=int(size),
        revision=current_revision(engine),
        head=head_revision(),
        pgdata=pgdata,
        pid=pid,
    )
