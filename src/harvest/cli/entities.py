"""`harvest entities …`: catalog import, extraction, resolution, dedupe of any CSV, lookup, merge/split."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import JSON_OPTION, MAX_ID, check_output_file, console, escape, input_file, print_json

app = typer.Typer(help="Entities: catalog, fuzzy mentions, resolution, relations.", no_args_is_help=True)


@app.command("import")
def import_(
    file: Path = input_file("CSV (header: name, id, aliases 'a|b', other columns) or JSONL."),
    entity_type: str | None = typer.Option(
        None, "--type", "-t", help="organization, person, product, place, … (or a `type` column)"
    ),
) -> None:
    """Import catalog entities (all rows or none); rows with a known id update their entity."""
    from harvest.db.engine import get_engine
    from harvest.entities.catalog import check_type, import_records, read_records

    if entity_type is not None:
        check_type(entity_type)
    report = import_records(get_engine(settings()), read_records(file), entity_type)
    console.print(
        f"imported {escape(str(file))}: {report.created} new, {report.updated} updated "
        f"entities, {report.aliases} new aliases"
    )


@app.command("extract")
def extract(
    force: bool = typer.Option(
        False, "--force", help="Scan every chunk again (after changing thresholds), not only new ones."
    ),
) -> None:
    """Find catalog entities in chunks not yet scanned against the current catalog."""
    from harvest.entities.service import extract_mentions

    with Progress(
        TextColumn("entities"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks"),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("extract", total=None)
        report = extract_mentions(
            settings(),
            force=force,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(
        f"scanned {report.chunks} chunks: {report.mentions} mentions, {report.candidates} new name "
        f"candidates, {report.fed_entities} entities from structured fields ({report.seconds:.1f} s)"
    )


@app.command("resolve")
def resolve() -> None:
    """Cluster entities that are the same thing (new ones compared; merges and splits kept)."""
    from harvest.entities.service import resolve_entities

    report = resolve_entities(settings())
    console.print(
        f"{report.entities} entities, {report.compared_new} new or changed compared: {report.matches} "
        f"matches, {report.clusters} clusters ({report.changed} changed)"
    )


@app.command("dedupe")
def dedupe(
    file: Path = input_file("A CSV file with a header row."),
    fields: str = typer.Option(..., "--fields", "-f", help="Columns to compare, the name first: name,city"),
    out: Path | None = typer.Option(
        None, "--out", "-o", callback=check_output_file, help="Output CSV (default FILE.clusters.csv)."
    ),
    threshold: float | None = typer.Option(
        None, min=0.5, max=1.0, help="Match score 0.5 to 1 (default from settings)."
    ),
) -> None:
    """Cluster the rows of any CSV that denote the same thing; writes the rows with a cluster_id."""
    from harvest.entities.dedupe import dedupe_csv

    output = out or file.with_suffix(".clusters.csv")
    report = dedupe_csv(
        file,
        [f.strip() for f in fields.split(",") if f.strip()],
        output,
        threshold=threshold or settings().entity_resolve_threshold,
    )
    console.print(
        f"{report.rows} rows -> {report.clusters} clusters ({report.pairs} matching pairs): "
        f"{escape(str(output))}"
    )


@app.command("search")
def search(
    name: str = typer.Argument(..., help="A name, misspelled or not."),
    entity_type: str | None = typer.Option(None, "--type", "-t"),
    limit: int = typer.Option(10, "-k", "--limit", min=1, max=100),
    as_json: bool = JSON_OPTION,
) -> None:
    """Typo-tolerant lookup of entities by name."""
    from dataclasses import asdict

    from harvest.entities.service import search_entities

    found = search_entities(settings(), name, limit, entity_type)
    if as_json:
        print_json([asdict(view) for view in found])
        return
    if not found:
        console.print(f"no entity named like {escape(name)!r}")
        return
    table = Table()
    for column in ("id", "type", "name", "score", "aliases", "mentions"):
        table.add_column(column)
    for view in found:
        table.add_row(
            str(view.id),
            view.type,
            escape(view.name),
            f"{view.score or 0:.2f}",
            escape(", ".join(view.aliases[:5])),
            str(view.mentions),
        )
    console.print(table)


@app.command("show")
def show(
    name: str = typer.Argument(..., help="An entity id or name (fuzzy)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Aliases, attributes, mentions, top related entities and the mention trend."""
    from dataclasses import asdict

    from harvest.entities.service import find_entity, mentions_of

    view = find_entity(settings(), name)
    if as_json:
        print_json(asdict(view) | {"mentions_list": mentions_of(settings(), view.id, 20)})
        return
    console.print(
        f"[bold]{escape(view.name)}[/] ({view.type}, entity {view.id}, cluster of {len(view.members)})"
    )
    console.print(f"aliases: {escape(', '.join(view.aliases))}")
    if view.attributes:
        console.print("attributes: " + escape(", ".join(f"{k}={v}" for k, v in view.attributes.items())))
    console.print(f"mentions: {view.mentions} in {view.documents} documents")
    for mention in mentions_of(settings(), view.id, 5):
        console.print(
            f"  · {escape(mention['surface'])!r} ({mention['score']:.0f}) in "
            f"{escape(mention['title'] or mention['url'])}"
        )
    if view.related:
        console.print("related: " + escape(", ".join(f"{r['name']} ({r['chunks']})" for r in view.related)))
    if view.trend:
        console.print("trend: " + ", ".join(f"{t['month']}: {t['mentions']}" for t in view.trend))


@app.command("merge")
def merge(
    first: int = typer.Argument(..., min=1, max=MAX_ID), second: int = typer.Argument(..., min=1, max=MAX_ID)
) -> None:
    """Declare two entities the same thing (kept across every later resolution)."""
    from harvest.entities.service import link

    report = link(settings(), first, second, "merge")
    console.print(f"merged {first} and {second}: {report.clusters} clusters")


@app.command("split")
def split(
    first: int = typer.Argument(..., min=1, max=MAX_ID), second: int = typer.Argument(..., min=1, max=MAX_ID)
) -> None:
    """Declare two entities different things (kept across every later resolution)."""
    from harvest.entities.service import link

    report = link(settings(), first, second, "split")
    console.print(f"split {first} from {second}: {report.clusters} clusters")


@app.command("candidates")
def candidates(
    limit: int = typer.Option(30, "-k", "--limit", min=1, max=500), as_json: bool = JSON_OPTION
) -> None:
    """Recurring names in the text that match no entity: proposals for the catalog."""
    from harvest.entities.service import list_candidates

    found = list_candidates(settings(), limit)
    if as_json:
        print_json(found)
        return
    table = Table()
    for column in ("id", "name", "mentions", "documents"):
        table.add_column(column)
    for row in found:
        table.add_row(str(row["id"]), escape(row["name"]), str(row["mentions"]), str(row["documents"]))
    console.print(table)
