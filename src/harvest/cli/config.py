"""`harvest config …`: what Harvest will use, secrets masked."""

from __future__ import annotations

import typer
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import JSON_OPTION, console, escape, print_json
from harvest.settings import masked

app = typer.Typer(help="Inspect Harvest's settings.", no_args_is_help=True)


@app.command()
def show(as_json: bool = JSON_OPTION) -> None:
    """Print every setting (HARVEST_* environment variables and .env), secrets masked."""
    shown = masked(settings())
    if as_json:
        print_json(shown)
        return
    table = Table("setting", "value")
    for name, value in shown.items():
        table.add_row(name, escape(value) if value else "[dim](unset)[/]")
    console.print(table)
