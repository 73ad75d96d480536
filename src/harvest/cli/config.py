"""`harvest config …`: what Harvest will use, secrets masked."""

from __future__ import annotations

import typer
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import console
from harvest.settings import masked

app = typer.Typer(help="Inspect Harvest's settings.", no_args_is_help=True)


@app.command()
def show() -> None:
    """Print every setting (HARVEST_* environment variables and .env), secrets masked."""
    table = Table("setting", "value")
    for name, value in masked(settings()).items():
        table.add_row(name, value or "[dim](unset)[/]")
    console.print(table)
