"""The task queue with real worker processes: pipelines, locks, two workers, cancellation, schedules.
(Workers, the database and the embeddings service killed mid-stage: tests/faults/test_crash_matrix.py.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from harvest.crawl.sources import add_source, edit_source
from harvest.crawl.spec import parse_spec
from harvest.db.engine import get_engine
from harvest.db.models import Chunk, Document, Page
from harvest.jobs.pipeline import (
    PipelineView,
    cancel_pipeline,
    get_pipeline,
    list_pipelines,
    start_pipeline,
)
from harvest.jobs.schedule import due_sources, fire_schedules, list_schedules
from harvest.settings import Settings, settings_env
from tests.conftest import free_port, make_settings, run_cli

pytestmark = pytest.mark.slow
BENCH_SITE = Path(__file__).resolve().parents[2] / "bench" / "_site.py"
PAGES = 60


@pytest.fixture(scope="module")
def corpus_site() -> Iterator[str]:
    """60 text pages (≈2 KB each, ETags) served by its own process."""
    site = subprocess.Popen(
        [sys.executable, str(BENCH_SITE), str(PAGES), "2"], stdout=subprocess.PIPE, text=True
    )
    assert site.stdout is not None
    yield f"http://127.0.0.1:{site.stdout.readline().strip()}"
    site.terminate()
    site.wait(timeout=10)


@pytest.fixture
def settings(fresh_db_settings: Settings) -> Settings:
    return make_settings(
        **fresh_db_settings.model_dump()
        | {
            "crawl_allowed_hosts": ["127.0.0.1"],
            "worker_heartbeat_s": 0.5,
            "worker_stalled_after_s": 3,
            "job_retry_wait_s": 0.5,
            "process_batch_size": 2,
            "embed_batch_chunks": 8,
        }
    )


def add(settings: Settings, base: str, name: str = "corpus", **extra: object) -> str:
    add_source(get_engine(settings), parse_spec({"name": name, "start_urls": [f"{base}/p/0"], **extra}))
    return name


class Workers:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, concurrency: int = 2) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "harvest", "worker", "--concurrency", str(concurrency)],
            env=settings_env(self.settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def workers(settings: Settings) -> Iterator[Workers]:
    pool = Workers(settings)
    yield pool
    pool.stop()


def wait_until(check: Callable[[], bool], timeout_s: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def finished(settings: Settings, run_id: int, timeout_s: float = 180) -> PipelineView:
    engine = get_engine(settings)
    wait_until(lambda: get_pipeline(engine, run_id).done, timeout_s, f"pipeline {run_id}")
    return get_pipeline(engine, run_id)


def assert_exactly_once(settings: Settings, source: str) -> None:
    """One raw version per URL, one document per page, chunks once, one vector per chunk."""
    engine = get_engine(settings)
    with engine.connect() as conn:
        per_url = conn.execute(
            text("SELECT url, count(*) FROM raw_pages WHERE source = :s GROUP BY url"), {"s": source}
        ).all()
        assert len(per_url) == PAGES and {n for _, n in per_url} == {1}
        max_version = conn.execute(select(func.max(Page.version))).scalar_one()
        assert max_version == 1
        assert conn.execute(select(func.count()).select_from(Document)).scalar_one() == PAGES
        chunks = conn.execute(select(func.count()).select_from(Chunk)).scalar_one()
        assert chunks >= PAGES
        vectors = conn.execute(text("SELECT count(*), count(DISTINCT chunk_id) FROM chunk_embeddings")).one()
        assert vectors[0] == vectors[1] == chunks


def test_a_pipeline_runs_every_stage_through_the_queue(
    settings: Settings, workers: Workers, corpus_site: str
) -> None:
    source = add(settings, corpus_site)
    workers.start()
    view = finished(settings, start_pipeline(settings, source).id)
    assert view.status == "succeeded", view
    assert [(s.stage, s.status, s.attempts) for s in view.stages] == [
        ("crawl", "succeeded", 1),
        ("process", "succeeded", 1),
        ("entities", "succeeded", 1),
        ("embed", "succeeded", 1),
    ]
    assert view.stages[0].counts["new"] == PAGES
    assert view.stages[1].counts["documents"] == PAGES
    assert_exactly_once(settings, source)
    again = finished(settings, start_pipeline(settings, source).id)
    assert again.status == "succeeded"
    # a pipeline right after the last asks again only for the start URL: the other pages are not due
    crawled = again.stages[0].counts
    assert (crawled["unchanged"], crawled["not_due"], crawled["new"]) == (1, PAGES - 1, 0)
    assert again.stages[1].counts["processed"] == 0 and again.stages[3].counts["embedded"] == 0


def test_a_second_request_while_one_is_queued_returns_the_same_run(
    settings: Settings, corpus_site: str
) -> None:
    source = add(settings, corpus_site)
    first = start_pipeline(settings, source)
    assert start_pipeline(settings, source).id == first.id  # no worker yet: still queued
    cancelled = cancel_pipeline(settings, first.id)
    assert cancelled.status == "cancelled"
    assert {s.status for s in cancelled.stages} == {"cancelled"}
    assert start_pipeline(settings, source).id != first.id


def test_two_workers_give_the_same_result_as_one(
    settings: Settings, workers: Workers, corpus_site: str
) -> None:
    source = add(settings, corpus_site)
    workers.start()
    workers.start()
    runs = [start_pipeline(settings, source).id]
    views = [finished(settings, run_id) for run_id in runs]
    assert all(v.status == "succeeded" for v in views)
    assert_exactly_once(settings, source)
    # two pipelines of different sources at once share the workers; their crawls overlap
    other = add(settings, corpus_site, name="corpus-2")
    third = add(settings, corpus_site, name="corpus-3")
    both = [start_pipeline(settings, other).id, start_pipeline(settings, third).id]
    assert all(finished(settings, run_id).status == "succeeded" for run_id in both)


def test_cancelling_a_running_crawl_stops_it(settings: Settings, workers: Workers, corpus_site: str) -> None:
    source = add(settings, corpus_site, delay=0.5, concurrency=1)
    workers.start()
    engine = get_engine(settings)
    run_id = start_pipeline(settings, source).id
    wait_until(lambda: get_pipeline(engine, run_id).stages[0].status == "running", 60, "crawl to start")
    cancel_pipeline(settings, run_id)
    wait_until(lambda: get_pipeline(engine, run_id).stages[0].status == "cancelled", 60, "crawl to stop")
    view = get_pipeline(engine, run_id)
    assert view.status == "cancelled"
    assert [s.status for s in view.stages] == ["cancelled"] * 4
    with engine.connect() as conn:
        crawled = conn.execute(select(func.count()).select_from(Page)).scalar_one()
    assert crawled < PAGES


def test_schedules_fire_at_their_minute(settings: Settings, corpus_site: str) -> None:
    hourly = add(settings, corpus_site, name="hourly", schedule="0 * * * *")
    add(settings, corpus_site, name="never")
    on_the_hour = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert due_sources(settings, on_the_hour) == [hourly]
    assert due_sources(settings, on_the_hour.replace(minute=1)) == []
    started = fire_schedules(settings, on_the_hour)
    assert len(started) == 1
    assert fire_schedules(settings, on_the_hour) == started  # fired twice: still one run
    assert get_pipeline(get_engine(settings), started[0]).trigger == "schedule"
    everything = make_settings(**settings.model_dump() | {"update_all_schedule": "30 2 * * *"})
    assert due_sources(everything, datetime(2026, 11, 25, 2, 30, tzinfo=UTC)) == ["hourly", "never"]
    edit_source(get_engine(settings), "never", {"schedule": "*/5 * * * *"})
    listed = {(v.source, v.origin) for v in list_schedules(everything)}
    assert listed == {
        ("hourly", "source"),
        ("never", "source"),
        ("hourly", "update-all"),
        ("never", "update-all"),
    }


def test_the_queue_fires_the_minute_tick_once_with_two_workers(
    settings: Settings, workers: Workers, corpus_site: str
) -> None:
    add(settings, corpus_site, name="every-minute", schedule="* * * * *")
    workers.start()
    workers.start()
    engine = get_engine(settings)

    def scheduled() -> int:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    text("SELECT count(*) FROM pipeline_runs WHERE trigger = 'schedule'")
                ).scalar_one()
            )

    wait_until(lambda: scheduled() >= 1, 75, "the minute tick")  # procrastinate's periodic deferrer
    with engine.connect() as conn:
        ticks = conn.execute(
            text(
                "SELECT count(*) FROM procrastinate_periodic_defers WHERE task_name = 'harvest.schedule_tick'"
            )
        ).scalar_one()
    assert ticks >= 1
    assert scheduled() == 1


def test_cli_run_wait_and_pipelines(settings: Settings, workers: Workers, corpus_site: str) -> None:
    source = add(settings, corpus_site)
    workers.start()
    env = {k: v for k, v in settings_env(settings).items() if k.startswith("HARVEST_")}
    done = run_cli("run", source, "--wait", env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout
    listed = run_cli("pipelines", "list", env=env)
    assert listed.returncode == 0 and "crawl:succeeded" in listed.stdout
    # --json for scripts: plain JSON on stdout, whatever the terminal width
    import json

    def as_json(*args: str) -> Any:
        result = run_cli(*args, "--json", env=env | {"COLUMNS": "20"})
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    pipelines = as_json("pipelines", "list")
    assert (
        pipelines[0]["source"] == source
        and [s["status"] for s in pipelines[0]["stages"]] == ["succeeded"] * 4
    )
    assert as_json("pipelines", "show", str(pipelines[0]["id"]))["id"] == pipelines[0]["id"]
    runs = as_json("runs", "list")
    assert runs[0]["counts"]["fetched"] > 0
    assert as_json("runs", "show", str(runs[0]["id"]))["status"] == runs[0]["status"]
    documents = as_json("documents", "list", "--limit", "3")
    assert len(documents) == 3 and {"id", "url", "title", "chunks"} <= set(documents[0])
    assert as_json("db", "status")["running"] is True
    missing = run_cli("run", "no-such-source", env=env)
    assert missing.returncode == 2 and "no source named" in missing.stderr
    schedules = run_cli("schedule", "list", env=env)
    assert schedules.returncode == 0


def test_run_wait_on_a_dead_source_fails_with_the_reason_and_the_pipeline_stops(
    settings: Settings, workers: Workers
) -> None:
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the site is down
    add(settings, down, name="dead")
    workers.start()
    env = {k: v for k, v in settings_env(settings).items() if k.startswith("HARVEST_")}
    done = run_cli("run", "dead", "--wait", env=env, timeout=240)
    assert done.returncode == 1, done.stdout
    [line] = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "pipeline run" in line and "of dead failed: crawl failed after 1 attempt:" in line
    assert f"no page could be fetched (1 failed): {down}/p/0: connection refused" in line
    view = list_pipelines(get_engine(settings), "dead")[0]
    assert [(s.stage, s.status, s.attempts) for s in view.stages] == [
        ("crawl", "failed", 1),  # not retried: the crawl ran to its end and said why
        ("process", "pending", 0),
        ("entities", "pending", 0),
        ("embed", "pending", 0),
    ]
