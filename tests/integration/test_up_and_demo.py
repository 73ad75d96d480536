"""The one-machine commands as a user runs them: `harvest up` and `harvest demo` (what `make demo` runs)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import httpx
import pytest

from harvest.demo.runner import DEMO_QUERIES
from harvest.settings import Settings, settings_env
from tests.conftest import free_port, make_settings, run_cli

pytestmark = pytest.mark.slow
TOKEN = "up-token"


def env_of(settings: Settings) -> dict[str, str]:
    return {k: v for k, v in settings_env(settings).items() if k.startswith("HARVEST_")}


def _read_lines(stream: IO[str], into: list[str]) -> None:
    for line in iter(stream.readline, ""):
        into.append(line)


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
    assert up.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=_read_lines, args=(up.stdout, lines), daemon=True)
    reader.start()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        deadline = time.monotonic() + 180
        while not any("harvest is up" in line for line in lines):
            assert up.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.2)
        api = f"http://127.0.0.1:{port}"
        health = httpx.get(f"{api}/api/health").json()
        assert health["ready"] and health["model_loaded"], health  # "up" means the query model is loaded
        with DemoSite() as site:
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
            # The first search does not load the model (it was loaded before "harvest is up"): the
            # server's own time is that of a search, not that of a model load (seconds).
            started = time.monotonic()
            response = httpx.get(f"{api}/api/search", params={"q": "sourdough starter"}, headers=auth)
            first_s = time.monotonic() - started
            found = response.json()
            assert found["items"][0]["url"].endswith("/articles/sourdough-san-francisco")
            assert found["took_ms"] < 1000 and first_s < 5, (found["took_ms"], first_s)
            # `harvest search` asks the running API (its model is loaded) instead of loading one itself
            started = time.monotonic()
            cli = run_cli("search", "sourdough starter", "-k", "3", env=env_of(settings))
            cli_s = time.monotonic() - started
            assert cli.returncode == 0, cli.stderr
            assert "answered by the running Harvest API" in cli.stdout, cli.stdout
            assert "loading the query model" not in cli.stdout
            assert "San Francisco sourdough" in cli.stdout
            assert cli_s < 10, cli_s
    finally:
        os.killpg(up.pid, signal.SIGINT)  # Ctrl-C in the terminal reaches the whole process group
        up.wait(timeout=60)
        reader.join(timeout=5)
    output = "".join(lines)
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
        r"RESULT demo pages=(\d+) documents=(\d+) skipped=(\d+) duplicates=(\d+) chunks=(\d+) "
        r"vectors=(\d+) entities=(\d+)",
        last,
    )
    assert match, last
    pages, documents, skipped, duplicates, chunks, vectors, _ = map(int, match.groups())
    assert pages >= 30 and chunks > 20 and vectors == chunks
    # documents are what the process stage made (its own count), not pages: index pages are skipped
    assert skipped > 0 and documents + skipped + duplicates == pages
    assert re.search(rf"process .*documents={documents}\b", first.stdout), first.stdout
    for number, question in enumerate(DEMO_QUERIES, start=1):  # the demo says what it asks
        assert f"question {number}: {question}" in first.stdout
    assert "Rooftop beehives multiply across Paris" in first.stdout  # a search result was printed
    assert not re.search(r"[┘┛╯]\S", first.stdout), "a line is glued onto a table border"

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
