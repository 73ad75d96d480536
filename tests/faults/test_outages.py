"""Database outages under a running Harvest, and stage rows that must follow their job's final state.

The outage tests run on an embedded server of their own (they stop it); the state tests on a copy of the
session's template database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from harvest.crawl.sources import add_source
from harvest.crawl.spec import parse_spec
from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.jobs.pipeline import cancel_pipeline, get_pipeline, mark_running, mark_stage, start_pipeline
from harvest.jobs.recovery import reconcile
from harvest.settings import Settings
from tests.conftest import free_port, make_settings, run_cli
from tests.faults.jobs_harness import corpus_site, env_of, finished, no_live_rows, wait_until
from tests.faults.test_up_stop_and_restart import Up

TOKEN = "outage-token"


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """A data directory with its own embedded PostgreSQL, which these tests stop and start."""
    data_dir = tmp_path_factory.mktemp("outage-data")
    server = EmbeddedPostgres(data_dir)
    server.start()
    settings = make_settings(
        data_dir=data_dir,
        crawl_allowed_hosts=["127.0.0.1"],
        worker_heartbeat_s=0.5,
        worker_stalled_after_s=3,
        job_retry_wait_s=0.5,
        api_token=TOKEN,
    )
    get_engine(settings)  # migrated
    yield settings
    dispose_engines()
    server.stop()


@pytest.mark.slow
def test_db_stop_under_harvest_up_is_survived_without_restarting_it(
    own_server: Settings, tmp_path: Path
) -> None:
    settings = own_server
    env = {k: v for k, v in env_of(settings).items() if k.startswith("HARVEST_")}
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    up = Up(settings, tmp_path / "up.log", "--port", str(port))
    try:
        wait_until(lambda: "harvest is up" in up.output and "queue worker" in up.output, 120, "`up` ready")
        stopped = run_cli("db", "stop", env=env)
        assert stopped.returncode == 0, stopped.stderr

        # the API answers 503 with a clear message, and neither it nor the worker starts the database
        answer = httpx.get(f"{api}/pipelines", headers=auth, timeout=30)
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "store_unavailable"
        assert "PostgreSQL is not running" in answer.json()["error"]["message"]
        wait_until(lambda: "reconnecting in" in up.output, 60, "the worker to notice")
        time.sleep(4)  # a few reconnection attempts
        assert not EmbeddedPostgres(settings.data_dir).state().running
        assert up.process.poll() is None

        assert run_cli("db", "start", env=env).returncode == 0
        wait_until(
            lambda: httpx.get(f"{api}/pipelines", headers=auth, timeout=30).status_code == 200, 60, "the API"
        )
        wait_until(lambda: up.output.count("queue worker") >= 2, 90, "the worker to reconnect")
        with corpus_site(5) as site:
            add_source(get_engine(settings), parse_spec({"name": "after", "start_urls": [f"{site}/p/0"]}))
            view = finished(settings, start_pipeline(settings, "after").id, 400)
        assert view.status == "succeeded", view
    finally:
        up.ctrl_c()
        code = up.wait(60)
    assert code == 0
    assert "Traceback" not in up.output, up.output[-3000:]


def _set_job_status(settings: Settings, job_id: int, status: str) -> None:
    with get_engine(settings).begin() as conn:
        conn.execute(
            text(
                "UPDATE procrastinate_jobs SET status = CAST(:s AS procrastinate_job_status) WHERE id = :id"
            ),
            {"s": status, "id": job_id},
        )


@pytest.fixture
def queued(fresh_db_settings: Settings) -> Settings:
    """A source with a queued pipeline (no worker runs here: the tests play the worker's part)."""
    add_source(
        get_engine(fresh_db_settings), parse_spec({"name": "s", "start_urls": ["http://127.0.0.1:9/"]})
    )
    return fresh_db_settings


def test_a_stage_whose_job_ended_follows_it_and_so_does_the_pipeline(queued: Settings) -> None:
    engine = get_engine(queued)
    run = start_pipeline(queued, "s")
    mark_running(engine, run.id, "crawl")
    job = get_pipeline(engine, run.id).stages[0].job_id
    assert job is not None
    # what a database outage left behind: the job failed, its stage and pipeline still "running"
    _set_job_status(queued, job, "failed")
    fixes = reconcile(queued)
    view = get_pipeline(engine, run.id)
    assert (view.status, view.stages[0].status) == ("failed", "failed"), fixes
    assert "crawl failed" in (view.message or "")
    assert no_live_rows(queued) == []
    # the source is not blocked: a new pipeline starts
    assert start_pipeline(queued, "s").id != run.id


def test_a_finished_stage_whose_successor_was_never_queued_is_continued(queued: Settings) -> None:
    engine = get_engine(queued)
    run = start_pipeline(queued, "s")
    mark_running(engine, run.id, "crawl")
    mark_stage(engine, run.id, "crawl", status="succeeded")
    job = get_pipeline(engine, run.id).stages[0].job_id
    assert job is not None
    _set_job_status(queued, job, "succeeded")  # the worker died before queueing `process`
    reconcile(queued)
    process = get_pipeline(engine, run.id).stages[1]
    assert process.status == "queued" and process.job_id is not None


def test_cancelling_a_pipeline_whose_job_already_failed_leaves_no_stage_running(queued: Settings) -> None:
    engine = get_engine(queued)
    run = start_pipeline(queued, "s")
    mark_running(engine, run.id, "crawl")
    job = get_pipeline(engine, run.id).stages[0].job_id
    assert job is not None
    _set_job_status(queued, job, "failed")
    view = cancel_pipeline(queued, run.id)
    assert view.status == "cancelled"
    assert [s.status for s in view.stages] == ["cancelled"] * 4
