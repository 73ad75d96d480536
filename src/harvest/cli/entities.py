"""`harvest entities …`: catalog import, extraction, resolution, dedupe and linkage of any CSV (with
explanations of a pair and the model's parameters), lookup, merge/split."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import (
    JSON_OPTION,
    MAX_ID,
    check_output_file,
    console,
    err_console,
    escape,
    input_file,
    print_json,
)

if TYPE_CHECKING:
    from harvest.entities.linkage import LinkReport

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


_FIELDS_HELP = (
    "Columns and their types: given_name:person_name,surname:person_name,date_of_birth:date,… "
    "Types: name, person_name, date, id, postcode, address, email, phone, text, exact."
)


def _progress_run(run: Callable[[Callable[[str, int | None, int | None], None]], LinkReport]) -> LinkReport:
    """Runs a linkage with one live line per stage (a bar where the stage knows its size)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(stage: str, done: int | None, total: int | None) -> None:
            if stage not in tasks:
                for task in tasks.values():
                    progress.update(task, visible=False)
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done or 0, total=total)

        return run(on_progress)


def _print_report(report: LinkReport, as_json: bool) -> None:
    from dataclasses import asdict

    if as_json:
        print_json(asdict(report))
        return
    rows = " + ".join(f"{n:,}" for n in report.rows)
    guessed = [f"{f['column']}:{f['type']}" for f in report.fields if f.get("guessed")]
    if guessed:
        console.print(
            "types guessed from the column names (give column:type to choose): " + escape(", ".join(guessed))
        )
    sizes = " · ".join(f"{size}: {count:,}" for size, count in report.cluster_sizes.items())
    console.print(
        f"{rows} rows -> {report.clusters:,} clusters (size {sizes}; largest {report.largest_cluster})"
    )
    console.print(
        f"{report.candidate_pairs:,} candidate pairs from {len(report.blocking)} blocking rules, "
        f"{report.matching_pairs:,} at match probability >= {report.threshold:g} "
        f"(prior {report.probability_two_random_records_match:.3g})"
    )
    console.print("blocking: " + escape(" · ".join(f"{b['rule']} ({b['pairs']:,})" for b in report.blocking)))
    if report.date_formats:
        console.print(
            "dates read as " + escape(" · ".join(f"{k} {v}" for k, v in report.date_formats.items()))
        )
    for warning in report.warnings:
        console.print(f"[yellow]note:[/] {escape(warning)}")
    console.print("wrote " + escape(" · ".join(f"{k} {v}" for k, v in report.outputs.items())))
    console.print("seconds: " + " · ".join(f"{k} {v:.1f}" for k, v in report.seconds.items()))


def _link_command(
    inputs: list[Path],
    fields: str | None,
    config: Path | None,
    id_column: str | None,
    out: Path,
    pairs_out: Path | None,
    model_out: Path | None,
    chart: Path | None,
    model: Path | None,
    threshold: float | None,
    blocks: list[str],
    force: bool,
    as_json: bool,
) -> None:
    from harvest.entities.dedupe import build_config, link_files

    config_ = build_config(fields, config, id_column, blocks)
    report = _progress_run(
        lambda on_progress: link_files(
            settings(),
            inputs,
            config_,
            out=out,
            pairs_out=pairs_out,
            model_out=model_out,
            chart_out=chart,
            model_in=model,
            threshold=threshold,
            force=force,
            on_progress=on_progress,
        )
    )
    _print_report(report, as_json)


_CONFIG = typer.Option(None, "--config", "-c", help="YAML: fields (column: type), id, threshold, blocking.")
_ID = typer.Option(None, "--id", help="Column with a unique id per row (default: row numbers from 1).")
_PAIRS = typer.Option(
    None,
    "--pairs-out",
    help="Every candidate pair: probability, weight, per-column level and weight (.csv or .parquet).",
)
_MODEL_OUT = typer.Option(
    None, "--model-out", help="Trained model with m/u parameters (default OUT.model.json)."
)
_CHART = typer.Option(None, "--chart", help="Match-weight histogram PNG (default OUT.weights.png).")
_MODEL = typer.Option(None, "--model", help="Reuse a model written by an earlier run instead of training.")
_THRESHOLD = typer.Option(
    None,
    "--threshold",
    "-t",
    min=0.0,
    max=1.0,
    help="Match probability for clusters (default HARVEST_ENTITY_MATCH_PROBABILITY).",
)
_BLOCK = typer.Option(
    [],
    "--block",
    help="A blocking rule instead of the automatic ones: columns that must agree, a+b (repeatable).",
)
_FORCE = typer.Option(False, "--force", help="Replace existing output files.")
_JSON = JSON_OPTION


@app.command("dedupe")
def dedupe(
    file: Path = input_file("A CSV file with a header row (delimiter , ; or tab)."),
    fields: str | None = typer.Option(None, "--fields", "-f", help=_FIELDS_HELP),
    config: Path | None = _CONFIG,
    id_column: str | None = _ID,
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        callback=check_output_file,
        help="Rows with a cluster_id (default FILE.clusters.csv).",
    ),
    pairs_out: Path | None = _PAIRS,
    model_out: Path | None = _MODEL_OUT,
    chart: Path | None = _CHART,
    model: Path | None = _MODEL,
    threshold: float | None = _THRESHOLD,
    blocks: list[str] = _BLOCK,
    force: bool = _FORCE,
    as_json: bool = _JSON,
) -> None:
    """Find the rows of a table that are the same person or thing (Splink, trained without labels)."""
    _link_command(
        [file],
        fields,
        config,
        id_column,
        out or file.with_suffix(".clusters.csv"),
        pairs_out,
        model_out,
        chart,
        model,
        threshold,
        blocks,
        force,
        as_json,
    )


@app.command("link")
def link_(
    first: Path = input_file("The first CSV file."),
    second: Path = input_file("The second CSV file (the same field columns)."),
    fields: str | None = typer.Option(None, "--fields", "-f", help=_FIELDS_HELP),
    config: Path | None = _CONFIG,
    id_column: str | None = _ID,
    out: Path | None = typer.Option(
        None,
        "--out",
        "-o",
        callback=check_output_file,
        help="Matched groups across the files (default FIRST.links.csv).",
    ),
    pairs_out: Path | None = _PAIRS,
    model_out: Path | None = _MODEL_OUT,
    chart: Path | None = _CHART,
    model: Path | None = _MODEL,
    threshold: float | None = _THRESHOLD,
    blocks: list[str] = _BLOCK,
    force: bool = _FORCE,
    as_json: bool = _JSON,
) -> None:
    """Find the records of two tables that are the same person or thing."""
    _link_command(
        [first, second],
        fields,
        config,
        id_column,
        out or first.with_suffix(".links.csv"),
        pairs_out,
        model_out,
        chart,
        model,
        threshold,
        blocks,
        force,
        as_json,
    )


@app.command("explain")
def explain(
    model: Path = input_file("A model written by dedupe or link (OUT.model.json)."),
    first: str = typer.Argument(..., help="Id (or row number) of the first record."),
    second: str = typer.Argument(
        ..., help="Id (or row number) of the second record (in the second file when linking)."
    ),
    data: list[Path] = typer.Option(
        [], "--data", help="The input file(s), if not where the model was trained."
    ),
    as_json: bool = _JSON,
) -> None:
    """Why two records score as they do: prior, each column's level and weight, the probability."""
    from dataclasses import asdict

    from harvest.entities.dedupe import explain_pair

    result = explain_pair(settings(), model, first, second, data or None)
    if as_json:
        print_json(asdict(result))
        return
    table = Table(title=f"{escape(first)} vs {escape(second)}")
    for column in ("column", "left", "right", "level", "weight", "running total"):
        table.add_column(column, justify="right" if column in ("weight", "running total") else "left")
    table.add_row(
        "prior", "", "", "two random records", f"{result.prior_weight:+.2f}", f"{result.prior_weight:+.2f}"
    )
    for step in result.steps:
        table.add_row(
            escape(step.column),
            escape("" if step.left is None else str(step.left)),
            escape("" if step.right is None else str(step.right)),
            escape(step.level),
            f"{step.weight:+.2f}",
            f"{step.total:+.2f}",
        )
    console.print(table)
    verdict = ""
    if result.threshold is not None:
        verdict = " — a match" if result.match_probability >= result.threshold else " — not a match"
        verdict += f" at threshold {result.threshold:g}"
    console.print(
        f"match weight {result.match_weight:+.2f}, probability {result.match_probability:.4f}{verdict}"
    )


@app.command("model")
def model_(
    model: Path = input_file("A model written by dedupe or link (OUT.model.json)."),
    as_json: bool = _JSON,
) -> None:
    """The trained m and u probabilities of every comparison level, and the weight each gives."""
    from harvest.entities.outputs import read_model

    harvest = read_model(model)["harvest"]
    if as_json:
        print_json(harvest)
        return
    console.print(
        "fields: "
        + escape(", ".join(f"{f['column']}:{f['type']}" for f in harvest["fields"]))
        + f"; prior {harvest['probability_two_random_records_match']:.3g}"
    )
    table = Table()
    for column in ("column", "level", "m", "u", "weight"):
        table.add_column(column, justify="left" if column in ("column", "level") else "right")
    for row in harvest["parameters"]:
        table.add_row(
            escape(row["column"]),
            escape(row["level"]) + ("" if row["trained_m"] else " (m not trained)"),
            "" if row["m"] is None else f"{row['m']:.4f}",
            "" if row["u"] is None else f"{row['u']:.2e}",
            "" if row["match_weight"] is None else f"{row['match_weight']:+.2f}",
        )
    console.print(table)
    for line in harvest.get("training", []):
        console.print(escape(line))


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
