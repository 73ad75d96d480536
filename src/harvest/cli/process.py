"""`harvest process [SOURCE]` and `harvest documents list|show`."""

from __future__ import annotations

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import JSON_OPTION, MAX_ID, console, escape, print_json

documents_app = typer.Typer(help="Inspect processed documents.", no_args_is_help=True)


def process(
    source: str | None = typer.Argument(None, help="Only this source (default: all)."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Process every page again, not only new versions: after changing extraction rules or "
        "HARVEST_CHUNK_* settings. Unchanged chunks keep their vectors.",
    ),
) -> None:
    """Turn new raw page versions into documents and chunks (only what changed since the last run)."""
    from harvest.process.runner import process_pending

    with Progress(
        TextColumn("processing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pages"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("process", total=None)
        report = process_pending(
            settings(),
            source,
            force=force,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    if report.processed == 0 and report.missing_raw == 0:
        console.print("nothing to process: every stored page version is already processed")
        return
    table = Table(title="process", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in (
        ("page versions processed", report.processed),
        ("documents (canonical)", report.documents),
        ("exact duplicates", report.exact_duplicates),
        ("near duplicates", report.near_duplicates),
        ("skipped", report.skipped),
        ("chunks added", report.chunks_added),
        ("chunks removed", report.chunks_removed),
        ("raw versions missing", report.missing_raw),
    ):
        table.add_row(label, str(value))
    console.print(table)
    for reason, count in sorted(report.skip_reasons.items()):
        console.print(f"  skipped {count}: {escape(reason)}")


@documents_app.command("list")
def list_command(
    source: str | None = typer.Option(None, help="Only documents of this source."),
    limit: int = typer.Option(50, min=1, max=10_000),
    offset: int = typer.Option(0, min=0, max=MAX_ID),
    as_json: bool = JSON_OPTION,
) -> None:
    """Documents with title, language, chunk count, and duplicate or skip status."""
    from harvest.db.engine import get_engine
    from harvest.process.documents import list_documents

    found = list_documents(get_engine(settings()), source=source, limit=limit, offset=offset)
    if as_json:
        print_json(found)
        return
    table = Table("id", "source", "title / url", "lang", "chunks", "status")
    for doc in found:
        if doc.skip_reason:
            status = f"[yellow]skipped:[/] {escape(doc.skip_reason)}"
        elif doc.duplicate_of:
            status = f"[dim]duplicate of {doc.duplicate_of}[/]"
        else:
            status = ""
        table.add_row(
            str(doc.id), doc.source, escape(doc.title or doc.url), doc.language or "", str(doc.chunks), status
        )
    console.print(table)


@documents_app.command("show")
def show(
    document_id: int = typer.Argument(..., min=1, max=MAX_ID, help="The document's id."),
    as_json: bool = typer.Option(False, "--json", help="Everything as JSON (text, versions, chunks)."),
) -> None:
    """One document: metadata, text, versions, chunks, duplicates."""
    from harvest.db.engine import get_engine
    from harvest.process.documents import document_json, get_document

    detail = get_document(get_engine(settings()), document_id)
    data = document_json(detail)
    if as_json:
        print_json(data)
        return
    for key in (
        "id",
        "source",
        "url",
        "page_version",
        "title",
        "author",
        "published_at",
        "language",
        "description",
        "duplicate_of",
        "duplicates",
        "skip_reason",
        "fields",
        "meta",
    ):
        if data[key] not in (None, [], {}, ""):
            console.print(f"[bold]{key}:[/] {escape(str(data[key]))}")
    console.print(f"[bold]versions:[/] {', '.join(str(v['page_version']) for v in data['versions'])}")
    console.print()
    console.print(escape(data["text"]), highlight=False)
    console.print()
    for chunk in data["chunks"]:
        heading = f" [dim]§ {escape(chunk['heading'])}[/]" if chunk["heading"] else ""
        console.print(
            f"[bold]chunk {chunk['ordinal']}[/] {chunk['id'][:12]} ({chunk['tokens']} tokens){heading}"
        )
