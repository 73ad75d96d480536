"""`harvest crawl SOURCE` (live progress) and `harvest runs …` (what crawls did)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table
from rich.text import Text

from harvest.cli.context import settings
from harvest.cli.output import JSON_OPTION, MAX_ID, console, error_line, escape, print_json

if TYPE_CHECKING:
    from harvest.crawl.runs import RunView

runs_app = typer.Typer(help="Inspect crawl runs.", no_args_is_help=True)

STATUS_STYLE = {
    "succeeded": "green",
    "partial": "yellow",
    "running": "cyan",
    "cancelled": "yellow",
    "interrupted": "yellow",
    "failed": "red",
    "queued": "dim",
}


COUNT_LABELS = {"not_due": "not due (kept, not asked for)"}


def progress_line(run: RunView) -> Text:
    counts = run.counts
    rate = counts["fetched"] / run.elapsed_s if run.elapsed_s else 0.0
    return Text.assemble(
        (f"{run.source} ", "bold"),
        (f"{run.status:<9} ", STATUS_STYLE.get(run.status, "")),
        f"{counts['fetched']:>6} pages  {rate:6.1f}/s  ",
        f"new {counts['new']}  changed {counts['changed']}  unchanged {counts['unchanged']}  ",
        f"gone {counts['gone']}  ",
        (f"failed {counts['failed']}", "red" if counts["failed"] else ""),
        f"  robots {counts['robots_skipped']}  {run.elapsed_s:5.1f}s",
    )


def summary(run: RunView) -> Table:
    table = Table(title=f"crawl run {run.id} of {run.source}: {run.status}", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for name, value in run.counts.items():
        table.add_row(COUNT_LABELS.get(name, name.replace("_", " ")), str(value))
    for kind, entry in run.limits.items():
        table.add_row(f"not followed ({kind.replace('_', ' ')} {entry['limit']})", str(entry["count"]))
    table.add_row("seconds", f"{run.elapsed_s:.1f}")
    return table


def run_json(run: RunView) -> dict[str, object]:
    return {
        "id": run.id,
        "source": run.source,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "elapsed_s": round(run.elapsed_s, 3),
        "counts": run.counts,
        "message": run.message,
        "errors": [{"url": url, "reason": reason} for url, reason in run.errors],
    }


def crawl(
    source: str = typer.Argument(..., help="Name of the source to crawl."),
    full: bool = typer.Option(
        False,
        "--full",
        help="Revalidate every known page, not only those due (HARVEST_CRAWL_REVISIT_MIN/MAX, "
        "Cache-Control, sitemap lastmod).",
    ),
) -> None:
    """Crawl a source now: live progress, then a summary. Ctrl-C stops cleanly, keeping what was fetched.
    A recrawl asks only for the pages that are due; the summary counts the others as "not due"."""
    from rich.live import Live

    from harvest.crawl.runner import crawl_log_path, run_crawl
    from harvest.crawl.runs import FINISHED_STATUSES

    current = settings()
    with Live(Text(f"starting crawl of {source}…"), console=console, transient=True) as live:
        run = run_crawl(current, source, on_progress=lambda r: live.update(progress_line(r)), full=full)
    console.print(summary(run))
    if run.message:
        console.print(f"[bold]note:[/] {escape(run.message)}")
    if run.errors:
        console.print(
            f"{len(run.errors)} page errors, e.g. {escape(run.errors[0][0])}: {escape(run.errors[0][1])}"
            f" (all: `harvest runs show {run.id}`)"
        )
    console.print(f"[dim]log: {crawl_log_path(current, run.id)}[/]")
    if run.status == "cancelled":
        raise typer.Exit(130)
    if run.status not in FINISHED_STATUSES:  # partial: what could be fetched was, and is kept
        error_line(f"crawl run {run.id} of {source} {run.status}: {run.message or 'see its log'}")
        raise typer.Exit(1)


@runs_app.command("list")
def list_command(
    source: str | None = typer.Option(None, help="Only runs of this source."),
    limit: int = typer.Option(20, min=1, max=10_000, help="How many of the latest runs."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The latest crawl runs."""
    from harvest.crawl.runs import list_runs
    from harvest.db.engine import get_engine

    found = list_runs(get_engine(settings()), source, limit)
    if as_json:
        print_json([run_json(run) for run in found])
        return
    table = Table(
        "run", "source", "status", "started", "seconds", "fetched", "new", "changed", "unchanged", "failed"
    )
    for run in found:
        table.add_row(
            str(run.id),
            run.source,
            f"[{STATUS_STYLE.get(run.status, '')}]{run.status}[/]",
            run.started_at.strftime("%Y-%m-%d %H:%M:%S") if run.started_at else "",
            f"{run.elapsed_s:.1f}",
            *(str(run.counts[k]) for k in ("fetched", "new", "changed", "unchanged", "failed")),
        )
    console.print(table)


@runs_app.command("show")
def show(
    run_id: int = typer.Argument(..., min=1, max=MAX_ID, help="The run's number (see `harvest runs list`)."),
    errors: int = typer.Option(50, min=0, help="How many page errors to list."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One run: counts, message and the pages that failed, with reasons."""
    from harvest.crawl.runs import get_run
    from harvest.db.engine import get_engine

    run = get_run(get_engine(settings()), run_id, error_limit=errors)
    if as_json:
        print_json(run_json(run))
        return
    console.print(summary(run))
    if run.message:
        console.print(f"[bold]note:[/] {escape(run.message)}")
    for url, reason in run.errors:
        console.print(f"  {escape(url)}  [red]{escape(reason)}[/]")
