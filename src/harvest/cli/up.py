"""`harvest up` (database + API + workers + scheduler) and `harvest demo` (the main job, end to end)."""

from __future__ import annotations

import time

import typer

from harvest.cli.context import settings
from harvest.cli.output import console, escape
from harvest.settings import Settings
from harvest.stack import Stack


def up(
    workers: int = typer.Option(1, "--workers", "-w", min=0, max=32, help="Worker processes to run."),
    port: int | None = typer.Option(None, min=1, max=65535, help="API port (default HARVEST_API_PORT)."),
    api: bool = typer.Option(True, "--api/--no-api", help="Serve the HTTP API."),
) -> None:
    """Everything a one-machine install needs: the embedded database, the API, workers and the scheduler
    (inside the workers), one log stream. A child that dies is restarted (with backoff). Ctrl-C stops it
    all within seconds: running stages are interrupted and resume at the next start; Ctrl-C twice stops
    at once."""
    from harvest.db.engine import describe_url, get_engine
    from harvest.jobs.recovery import interrupted_pipelines

    current = settings()
    engine = get_engine(current)  # starts and migrates the embedded database before the children need it
    waiting = interrupted_pipelines(current)
    if waiting and workers:
        console.print(
            f"resuming {len(waiting)} interrupted pipeline(s): " + escape(", ".join(map(str, waiting)))
        )
    stack = Stack(current)
    try:
        started = time.monotonic()
        base = stack.serve(workers=workers, port=port, api=api)
        console.print(f"database: {escape(describe_url(engine.url))}")
        if base:
            console.print(
                f"API: {base}/api  (docs: {base}/docs), ready in {time.monotonic() - started:.1f} s"
                " with the query model loaded"
            )
        if workers:
            console.print(f"backups: {escape(backup_schedule_line(current))}")
        console.print("[bold]harvest is up[/]; Ctrl-C stops it")
        code = stack.wait()
    finally:
        stack.stop()
        for line in stack.report_interrupted():
            console.print(escape(line))
    if stack.failure:
        console.print(f"[red]{escape(stack.failure)}[/]")
    raise typer.Exit(code)


def backup_schedule_line(current: Settings) -> str:
    if current.backup_cron is None:
        return "no automatic backup (HARVEST_BACKUP_SCHEDULE=off)"
    where = current.backup_url or "backups/ in the object store"
    return f"automatic, cron '{current.backup_cron}' UTC (HARVEST_BACKUP_SCHEDULE) → {where}"


def demo(
    serve_after: bool = typer.Option(
        True, "--serve/--no-serve", help="Keep the API (and the demo site) up afterwards until Ctrl-C."
    ),
    site_port: int = typer.Option(8765, min=1, max=65535, help="Port of the bundled demo site."),
    port: int | None = typer.Option(None, min=1, max=65535, help="API port (default HARVEST_API_PORT)."),
) -> None:
    """The main job: serve the bundled demo site on 127.0.0.1, register it as a source with an entity
    catalog, run its whole pipeline through the queue (crawl → process → entities → embed) with live
    progress, print search results and entity links, then keep `harvest up` serving until Ctrl-C (or
    exit with --no-serve)."""
    from harvest.demo.runner import run_demo

    raise typer.Exit(run_demo(settings(), serve_after=serve_after, site_port=site_port, api_port=port))
