"""`harvest up` (database + API + workers + scheduler) and `harvest demo` (the main job, end to end)."""

from __future__ import annotations

import time

import typer

from harvest.cli.context import settings
from harvest.cli.output import console, escape
from harvest.errors import StoreUnavailableError
from harvest.settings import Settings
from harvest.stack import Stack

API_START_TIMEOUT_S = 60.0
MODEL_LOAD_TIMEOUT_S = 180.0


def _wait_for_api(current: Settings, port: int, stack: Stack | None = None) -> None:
    """Until the API answers, then until it reports ready (its query model loaded), so that the first
    search after "harvest is up" is fast. A model that will not load is reported, not waited for forever."""
    import httpx

    started = time.monotonic()
    body: dict[str, object] | None = None
    while time.monotonic() - started < API_START_TIMEOUT_S + MODEL_LOAD_TIMEOUT_S:
        if stack is not None and (dead := stack.exited()) is not None:
            raise StoreUnavailableError(f"the {dead.name} process exited with code {dead.process.returncode}")
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            body = None
        if body is None and time.monotonic() - started > API_START_TIMEOUT_S:
            break
        if body is not None and body.get("ready"):
            return
        time.sleep(0.3)
    if body is None:
        raise StoreUnavailableError(
            f"the API did not answer on port {port} within {API_START_TIMEOUT_S:.0f} s"
        )
    console.print(
        f"[yellow]the API answers, but its query model is not loaded after {MODEL_LOAD_TIMEOUT_S:.0f} s; "
        "searches will wait for it (see the [api] log)[/]"
    )


def up(
    workers: int = typer.Option(1, "--workers", "-w", min=0, max=32, help="Worker processes to run."),
    port: int | None = typer.Option(None, min=1, max=65535, help="API port (default HARVEST_API_PORT)."),
    api: bool = typer.Option(True, "--api/--no-api", help="Serve the HTTP API."),
) -> None:
    """Everything a one-machine install needs: the embedded database, the API, workers and the scheduler
    (inside the workers), one log stream; Ctrl-C stops it all cleanly."""
    from harvest.db.engine import describe_url, get_engine

    current = settings()
    engine = get_engine(current)  # starts and migrates the embedded database before the children need it
    stack = Stack(current)
    try:
        serve(current, stack, workers=workers, port=port, api=api)
        console.print(f"database: {escape(describe_url(engine.url))}")
        if workers:
            console.print(f"backups: {escape(backup_schedule_line(current))}")
        console.print("[bold]harvest is up[/]; Ctrl-C stops it")
        code = stack.wait()
    finally:
        stack.stop()
    raise typer.Exit(code)


def backup_schedule_line(current: Settings) -> str:
    if current.backup_cron is None:
        return "no automatic backup (HARVEST_BACKUP_SCHEDULE=off)"
    where = current.backup_url or "backups/ in the object store"
    return f"automatic, cron '{current.backup_cron}' UTC (HARVEST_BACKUP_SCHEDULE) → {where}"


def serve(current: Settings, stack: Stack, *, workers: int, port: int | None, api: bool) -> None:
    api_port = port or current.api_port
    if workers:
        stack.start_workers(workers)
    if api:
        started = time.monotonic()
        stack.start_api(api_port)
        _wait_for_api(current, api_port, stack)
        console.print(
            f"API: http://127.0.0.1:{api_port}/api  (docs: http://127.0.0.1:{api_port}/docs), ready "
            f"in {time.monotonic() - started:.1f} s with the query model loaded"
        )


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
