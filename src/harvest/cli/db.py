"""`harvest db …`: the embedded server's lifecycle, status and migrations."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import JSON_OPTION, console, human_size, print_json

if TYPE_CHECKING:
    from harvest.db.status import DatabaseStatus

app = typer.Typer(help="Manage Harvest's PostgreSQL database.", no_args_is_help=True)


@app.command()
def start() -> None:
    """Start the embedded PostgreSQL (if needed) and apply migrations."""
    from harvest.db.engine import get_engine
    from harvest.db.status import database_status

    get_engine(settings())
    show_status(database_status(settings()))


@app.command()
def stop() -> None:
    """Stop the embedded PostgreSQL cleanly; its data stays in the data directory."""
    from harvest.db.embedded import EmbeddedPostgres
    from harvest.db.engine import dispose_engines

    current = settings()
    if not current.embedded_database:
        console.print("HARVEST_DATABASE_URL points at an external server; Harvest does not stop it.")
        return
    dispose_engines()
    if EmbeddedPostgres(current.data_dir).stop():
        console.print(f"stopped the embedded PostgreSQL in {current.pgdata_dir}")
    else:
        console.print("the embedded PostgreSQL was not running")


@app.command()
def status(as_json: bool = JSON_OPTION) -> None:
    """Show where the database is, its version, extensions, size and migration state."""
    from harvest.db.status import database_status

    state = database_status(settings())
    if as_json:
        print_json(asdict(state))
        return
    show_status(state)


@app.command("upgrade")
def upgrade_command() -> None:
    """Apply pending migrations (they also run automatically on start)."""
    from harvest.db.engine import get_engine
    from harvest.db.migrate import current_revision, upgrade

    engine = get_engine(settings())
    before = current_revision(engine)
    after = upgrade(engine)
    console.print(f"database schema at revision {after} (was {before})")


def show_status(state: DatabaseStatus) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("mode", state.mode)
    if state.pgdata:
        table.add_row("data", state.pgdata)
    if not state.running:
        table.add_row("status", "[yellow]stopped[/] (`harvest db start` starts it)")
        console.print(table)
        return
    table.add_row("status", "[green]running[/]" + (f" (pid {state.pid})" if state.pid else ""))
    table.add_row("url", state.url)
    table.add_row("server", f"PostgreSQL {state.server_version}")
    table.add_row("extensions", ", ".join(f"{name} {ver}" for name, ver in sorted(state.extensions.items())))
    table.add_row("size", human_size(state.size_bytes))
    current = "up to date" if state.revision == state.head else f"behind head {state.head}"
    table.add_row("schema", f"revision {state.revision} ({current})")
    console.print(table)
