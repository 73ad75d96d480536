"""`harvest up` stopped as a user stops it, during a crawl: Ctrl-C, Ctrl-C twice, and a worker that dies.

Everything is gone within seconds (no orphan crawl process or browser), the pipeline is `interrupted`,
never left "running", and the next `up` says it resumes it and finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harvest.crawl.sources import add_source
from harvest.crawl.spec import parse_spec
from harvest.db.engine import get_engine
from harvest.jobs.pipeline import get_pipeline, start_pipeline
from harvest.settings import Settings
from tests.conftest import free_port, make_settings
from tests.faults.jobs_harness import (
    alive,
    corpus_site,
    descendants,
    env_of,
    finished,
    no_live_rows,
    snapshot,
    wait_until,
)

pytestmark = pytest.mark.slow
PAGES = 40
TOKEN = "up-stop-token"


class Up:
    """`harvest up` in a terminal of its own: Ctrl-C reaches its whole foreground process group."""

    def __init__(self, settings: Settings, log: Path, *args: str) -> None:
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "harvest", "up", "--workers", "1", *args],
                env=env_of(settings) | {"COLUMNS": "200", "PYTHONUNBUFFERED": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def ctrl_c(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)

    def wait(self, timeout_s: float) -> int:
        return self.process.wait(timeout=timeout_s)

    def worker(self) -> int:
        children = [p for p in descendants(self.process.pid) if p.cmdline()[-1:] == ["worker"]]
        assert children, "no worker process under `harvest up`"
        return children[0].pid


def crawling(settings: Settings, run_id: int, at_least: int = 3) -> bool:
    crawl = get_pipeline(get_engine(settings), run_id).stages[0]
    return crawl.status == "running" and int(crawl.counts.get("fetched", 0) or 0) >= at_least


@pytest.mark.timeout(900)  # three `harvest up` runs and a whole pipeline
def test_ctrl_c_during_a_crawl_stops_everything_in_seconds_and_the_pipeline_resumes(
    fresh_db_settings: Settings, tmp_path: Path
) -> None:
    settings = make_settings(
        **fresh_db_settings.model_dump()
        | {"crawl_allowed_hosts": ["127.0.0.1"], "worker_heartbeat_s": 1, "api_token": TOKEN}
    )
    engine = get_engine(settings)
    with corpus_site(PAGES) as site:
        spec = {"name": "slow", "start_urls": [f"{site}/p/0"], "delay": 0.25, "concurrency": 1}
        add_source(engine, parse_spec(spec))
        run_id = start_pipeline(settings, "slow").id

        # 1. Ctrl-C once, during the crawl: everything (API, worker, crawl process) gone in < 10 s
        port = free_port()
        up = Up(settings, tmp_path / "up-1.log", "--port", str(port))
        wait_until(lambda: crawling(settings, run_id), 240, "the crawl to be under way")
        family = descendants(up.process.pid)
        assert any("harvest.crawl.worker" in " ".join(p.cmdline()) for p in family), family
        assert httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=10).status_code == 200
        started = time.monotonic()
        up.ctrl_c()
        assert up.wait(30) == 0, up.output
        assert time.monotonic() - started < 10, up.output
        assert alive(family) == []
        view = get_pipeline(engine, run_id)
        assert view.status == "interrupted", view
        assert (view.stages[0].status, view.stages[0].attempts) == ("interrupted", 1)
        assert f"pipeline {run_id} (slow: crawl) is interrupted; it resumes" in up.output
        assert "Traceback" not in up.output

        # 2. the next `up` says it resumes it; Ctrl-C twice stops at once, the job handed back
        up = Up(settings, tmp_path / "up-2.log", "--no-api")
        wait_until(lambda: "resuming 1 interrupted pipeline" in up.output, 60, "the resume notice")
        wait_until(lambda: crawling(settings, run_id), 240, "the resumed crawl to be under way")
        assert "resuming the crawl of slow" in up.output
        family = descendants(up.process.pid)
        up.ctrl_c()
        time.sleep(0.3)
        started = time.monotonic()
        up.ctrl_c()
        up.wait(30)
        assert time.monotonic() - started < 5, up.output
        assert alive(family) == []
        assert get_pipeline(engine, run_id).status == "interrupted"
        assert "Traceback" not in up.output

        # 3. a worker that dies is restarted by `up` (its job handed back at once), the pipeline ends
        up = Up(settings, tmp_path / "up-3.log", "--no-api")
        wait_until(lambda: crawling(settings, run_id), 240, "the crawl to be under way again")
        os.kill(up.worker(), signal.SIGKILL)
        wait_until(lambda: "worker exited with code -9; restarting" in up.output, 30, "the restart")
        view = finished(settings, run_id, 400)
        up.ctrl_c()
        assert up.wait(30) == 0
        assert view.status == "succeeded", view
        assert view.stages[0].attempts == 2  # two interruptions did not count; the crash did
        assert snapshot(settings, "slow")["documents"] == PAGES
        assert no_live_rows(settings) == []
        assert "Traceback" not in up.output
