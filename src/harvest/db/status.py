"""What `harvest db status` reports: where the database is, which server, extensions, size, revision."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, text

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


# What /api/health counts: name shown -> table.
COUNTED_TABLES = {
    "sources": "sources",
    "pages": "pages",
    "documents": "documents",
    "chunks": "chunks",
    "vectors": "chunk_embeddings",
}
# Tables estimated to hold fewer rows are counted exactly (a few milliseconds); larger ones are estimates.
EXACT_COUNT_LIMIT = 200_000


def table_counts(conn: Connection) -> tuple[dict[str, int], list[str]]:
    """Row counts of Harvest's main tables, and the names whose count is an estimate: exact below
    EXACT_COUNT_LIMIT rows; above, the statistics' live-row estimate (constant time at any size)."""
    counts: dict[str, int] = {}
    estimated: list[str] = []
    for name, table in COUNTED_TABLES.items():
        estimate = conn.execute(
            text(
                "SELECT greatest(c.reltuples::bigint, coalesce(s.n_live_tup, 0)) FROM pg_class c "
                "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = to_regclass(:t)"
            ),
            {"t": table},
        ).scalar()
        if estimate is not None and estimate >= EXACT_COUNT_LIMIT:
            counts[name] = int(estimate)
            estimated.append(name)
        else:
            counts[name] = int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())
    return counts, estimated
