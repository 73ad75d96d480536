"""The one-machine commands as a user runs them: `harvest up` and `harvest demo` (what `make demo` runs)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harvest.settings import Settings, settings_env
from tests.conftest import free_port, make_settings, run_cli, wait_for_port

pytestmark = pytest.mark.slow
TOKEN = "up-token"


def env_of(settings: Settings) -> dict[str, str]:
    return {k: v for k, v in settings_env(settings).items() if k.startswith("HARVEST_")}


def test_harvest_up_serves_the_api_runs_pipelines_and_stops_on_ctrl_c(fresh_db_settings: Settings) -> None:
    from harvest.demo.site import DemoSite, demo_source_spec

    port = free_port()
    settings = make_settings(
        **fresh_db_settings.model_dump()
        | {"crawl_allowed_hosts": ["127.0.0.1"], "api_token": TOKEN, "worker_heartbeat_s": 1}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")} | env_of(settings)
    up = subprocess.Popen(
        [sys.executable, "-m", "harvest", "up", "--port", str(port), "--workers", "1"],
        env=env | {"COLUMNS": "200"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        with DemoSite() as site:
            wait_for_port(port, 90)
            api = f"http://127.0.0.1:{port}"
            created = httpx.post(f"{api}/api/sources", json=demo_source_spec(site.base), headers=auth)
            assert created.status_code == 201, created.text
            run = httpx.post(f"{api}/api/sources/demo/run", headers=auth).json()
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                view = httpx.get(f"{api}/api/pipelines/{run['id']}", headers=auth).json()
                if view["status"] not in ("queued", "running"):
                    break
                time.sleep(0.5)
            assert view["status"] == "succeeded", view
            found = httpx.get(f"{api}/api/search", params={"q": "sourdough starter"}, headers=auth).json()
            assert found["hits"][0]["url"].endswith("/articles/sourdough-san-francisco")
    finally:
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches the whole process group
        output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    assert "[api]" in output and "[worker]" in output and "harvest is up" in output


def test_make_demo_no_serve_then_again_incrementally(fresh_db_settings: Settings, tmp_path: Path) -> None:
    env = env_of(fresh_db_settings)
    site_port = str(free_port())
    started = time.monotonic()
    first = run_cli("demo", "--no-serve", "--site-port", site_port, env=env, timeout=300)
    first_s = time.monotonic() - started
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    last = first.stdout.strip().splitlines()[-1]
    match = re.fullmatch(
        r"RESULT demo pages=(\d+) documents=(\d+) chunks=(\d+) vectors=(\d+) entities=(\d+)", last
    )
    assert match, last
    pages, documents, chunks, vectors, _ = map(int, match.groups())
    assert pages >= 30 and documents == pages and chunks > 20 and vectors == chunks
    assert "Rooftop beehives multiply across Paris" in first.stdout  # a search result was printed

    started = time.monotonic()
    second = run_cli("demo", "--no-serve", "--site-port", site_port, env=env, timeout=300)
    second_s = time.monotonic() - started
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.strip().splitlines()[-1] == last  # same data, nothing duplicated
    assert re.search(r"unchanged=\d+", second.stdout)
    assert second_s < first_s


def test_demo_reports_a_failed_crawl_with_its_reason(fresh_db_settings: Settings) -> None:
    # no Chromium (HARVEST_CHROMIUM_PATH wrong): the demo's browser source cannot be crawled at all
    env = env_of(fresh_db_settings) | {"HARVEST_CHROMIUM_PATH": "/nonexistent/chromium"}
    result = run_cli("demo", "--no-serve", "--site-port", str(free_port()), env=env, timeout=300)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "the demo pipeline failed: crawl failed after 1 attempt" in result.stdout
    assert "Chromium not found at /nonexistent/chromium" in result.stdout
    assert "RESULT" not in result.stdout and "Traceback" not in result.stderr
