"""`harvest worker`, `harvest run`, `harvest pipelines list|show|cancel`, `harvest schedule list`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import JSON_OPTION, MAX_ID, LiveView, console, error_line, escape, print_json
from harvest.errors import StoreUnavailableError
from harvest.settings import Settings

if TYPE_CHECKING:
    from harvest.jobs.pipeline import PipelineView

pipelines_app = typer.Typer(
    help="Pipeline runs (crawl → process → entities → embed) on the task queue.", no_args_is_help=True
)
schedule_app = typer.Typer(help="When pipelines start by themselves.", no_args_is_help=True)

_STYLE = {"succeeded": "green", "failed": "red", "running": "cyan", "cancelled": "yellow", "queued": "blue"}


def worker(
    concurrency: int | None = typer.Option(
        None, "--concurrency", "-c", min=1, max=64, help="Jobs at once (default HARVEST_WORKER_CONCURRENCY)."
    ),
) -> None:
    """Run queued jobs until stopped (SIGTERM / Ctrl-C: running jobs finish first)."""
    import asyncio

    from harvest.jobs.worker import run_worker

    current = settings()
    console.print(f"worker: {concurrency or current.worker_concurrency} job(s) at a time; Ctrl-C stops")
    asyncio.run(run_worker(current, concurrency or current.worker_concurrency))


def _counts(counts: dict[str, object]) -> str:
    shown = {k: v for k, v in counts.items() if k not in {"skip_reasons", "model", "model_id", "seconds"}}
    return " ".join(f"{k}={v}" for k, v in shown.items() if v not in (0, None, {}))


def pipeline_table(view: PipelineView) -> Table:
    style = _STYLE.get(view.status, "white")
    table = Table(
        title=f"pipeline {view.id} · {escape(view.source)} · [{style}]{view.status}[/]", expand=False
    )
    table.add_column("stage")
    table.add_column("status")
    table.add_column("tries", justify="right")
    table.add_column("time", justify="right")
    table.add_column("counts")
    for stage in view.stages:
        table.add_row(
            stage.stage,
            f"[{_STYLE.get(stage.status, 'white')}]{stage.status}[/]",
            str(stage.attempts),
            f"{stage.elapsed_s:.1f} s" if stage.started_at else "",
            escape(_counts(stage.counts) + (f"  {stage.message}" if stage.message else "")),
        )
    if view.message:
        table.caption = escape(view.message)
    return table


def wait_for(
    view: PipelineView,
    timeout_s: float | None = None,
    current: Settings | None = None,
    workers_alive: Callable[[], bool] | None = None,
) -> PipelineView:
    """Follow a pipeline run live until it ends; hints when no worker seems to be taking the job."""
    from harvest.db.engine import get_engine
    from harvest.jobs.pipeline import get_pipeline

    engine = get_engine(current or settings())
    started = time.monotonic()
    hinted = False
    seen: dict[str, str] = {}
    with LiveView(pipeline_table(view)) as live:
        while not view.done:
            time.sleep(0.5)
            view = get_pipeline(engine, view.id)
            live.update(pipeline_table(view))
            for stage in view.stages:
                if seen.get(stage.stage, "queued") != stage.status:
                    live.note(f"pipeline {view.id} · {stage.stage}: {stage.status}")
                seen[stage.stage] = stage.status
            waited = time.monotonic() - started
            if not hinted and waited > 10 and view.status == "queued":
                hinted = True
                console.print(
                    "[yellow]still queued: is a worker running? (`harvest worker` or `harvest up`)[/]"
                )
            if timeout_s is not None and waited > timeout_s:
                break
            if workers_alive is not None and not workers_alive():
                raise StoreUnavailableError("the worker running this pipeline stopped; see its log")
    return view


def run(
    source: str = typer.Argument(..., help="The source whose pipeline to run."),
    wait: bool = typer.Option(False, "--wait", "-w", help="Follow the run live until it ends."),
) -> None:
    """Queue the pipeline of a source (crawl → process → entities → embed); workers run it."""
    from harvest.jobs.pipeline import start_pipeline

    view = start_pipeline(settings(), source)
    console.print(f"pipeline run {view.id} of {escape(source)}: {view.status}")
    if wait:
        view = wait_for(view)
        if view.status != "succeeded":
            reason = view.message or "no reason given"
            error_line(f"pipeline run {view.id} of {source} {view.status}: {reason}")
            raise typer.Exit(1)


def pipeline_json(view: PipelineView) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(view) | {"stages": [asdict(s) | {"elapsed_s": round(s.elapsed_s, 3)} for s in view.stages]}


@pipelines_app.command("list")
def pipelines_list(
    source: str | None = typer.Option(None, "--source", "-s"),
    limit: int = typer.Option(20, min=1, max=500),
    as_json: bool = JSON_OPTION,
) -> None:
    """Recent pipeline runs."""
    from harvest.db.engine import get_engine
    from harvest.jobs.pipeline import list_pipelines

    found = list_pipelines(get_engine(settings()), source, limit)
    if as_json:
        print_json([pipeline_json(view) for view in found])
        return
    table = Table()
    for column in ("id", "source", "status", "trigger", "created", "stages"):
        table.add_column(column)
    for view in found:
        table.add_row(
            str(view.id),
            escape(view.source),
            f"[{_STYLE.get(view.status, 'white')}]{view.status}[/]",
            view.trigger,
            view.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            " → ".join(f"{s.stage}:{s.status}" for s in view.stages),
        )
    console.print(table)


@pipelines_app.command("show")
def pipelines_show(run_id: int = typer.Argument(..., min=1, max=MAX_ID), as_json: bool = JSON_OPTION) -> None:
    """One pipeline run, stage by stage."""
    from harvest.db.engine import get_engine
    from harvest.jobs.pipeline import get_pipeline

    view = get_pipeline(get_engine(settings()), run_id)
    if as_json:
        print_json(pipeline_json(view))
        return
    console.print(pipeline_table(view))


@pipelines_app.command("cancel")
def pipelines_cancel(run_id: int = typer.Argument(..., min=1, max=MAX_ID)) -> None:
    """Cancel a pipeline run: waiting stages are dropped, a running one stops at its next checkpoint."""
    from harvest.jobs.pipeline import cancel_pipeline

    console.print(pipeline_table(cancel_pipeline(settings(), run_id)))


@schedule_app.command("list")
def schedule_list(as_json: bool = JSON_OPTION) -> None:
    """Every schedule, when it fires next, and when it last started a pipeline."""
    from harvest.jobs.schedule import list_schedules

    views = list_schedules(settings())
    if as_json:
        print_json(views)
        return
    if not views:
        console.print("no schedules: set one with `harvest source edit NAME --schedule '0 3 * * *'`")
        return
    table = Table()
    for column in ("source", "schedule", "from", "next run (UTC)", "last scheduled run"):
        table.add_column(column)
    for view in views:
        table.add_row(
            escape(view.source),
            escape(view.schedule),
            view.origin,
            view.next_at.strftime("%Y-%m-%d %H:%M")
            if view.next_at
            else f"[red]never: {escape(view.error or '')}[/]",
            view.last_scheduled_run.strftime("%Y-%m-%d %H:%M") if view.last_scheduled_run else "never",
        )
    console.print(table)


def scheduler() -> None:
    """Run the schedules: queue each minute's tick and start the pipelines whose cron fires (one
    process per installation is enough, more are harmless; workers run the stages). SIGTERM stops it."""
    import asyncio

    from harvest.jobs.scheduler import run_scheduler

    console.print("scheduler: starting each source's pipeline when its schedule fires; Ctrl-C stops")
    asyncio.run(run_scheduler(settings()))
