"""The web UI end to end: a real `harvest up` (API + worker) serving the built UI, the bundled demo site
crawled once per session through the queue, and Debian's Chromium driven by Playwright. Every test fails
on a browser console error or a failed request; screenshots land in test-results/e2e/."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from harvest.api.ui import UI_DIR
from harvest.crawl.sources import apply_sources
from harvest.crawl.spec import parse_spec
from harvest.db.engine import get_engine
from harvest.demo.runner import CATALOG
from harvest.demo.site import DemoSite, demo_source_spec
from harvest.entities.catalog import import_records, read_records
from harvest.settings import Settings, settings_env
from tests.conftest import _admin, free_port, make_settings, wait_for_port
from tests.sites.testsite import LocalSite

TOKEN = "e2e-token"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "e2e"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Stack:
    url: str
    settings: Settings
    demo: DemoSite
    site: LocalSite
    auth: dict[str, str] = field(default_factory=lambda: {"Authorization": f"Bearer {TOKEN}"})

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = httpx.request(method, f"{self.url}{path}", headers=self.auth, timeout=30, **kwargs)
        assert answer.status_code < 400, answer.text
        return answer.json() if answer.content else None

    def items(self, path: str, **params: Any) -> list[Any]:
        """The items of a collection's first page."""
        return list(self.api("GET", path, params=params)["items"])

    def wait_pipeline(self, run_id: int, timeout_s: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            view: dict[str, Any] = self.api("GET", f"/api/pipelines/{run_id}")
            if view["status"] not in ("queued", "running"):
                return view
            time.sleep(0.5)
        raise AssertionError(f"pipeline {run_id} still running after {timeout_s} s")


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, pg_server: Any, pg_template: str, pg_data_dir: Path
) -> Iterator[Stack]:
    if not (UI_DIR / "index.html").is_file():
        pytest.fail("the web UI is not built: run `make ui` (make test does)")
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    with _admin(pg_server) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    settings = make_settings(
        data_dir=pg_data_dir,
        database_name=name,
        mlflow_database=f"{name}_mlflow",
        train_epochs=20,
        crawl_allowed_hosts=["127.0.0.1"],
        api_token=TOKEN,
        worker_heartbeat_s=1,
    )
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARVEST_")}
    env |= {k: v for k, v in settings_env(settings).items() if k.startswith("HARVEST_")}
    log = (tmp_path_factory.mktemp("e2e") / "harvest-up.log").open("w")
    up = subprocess.Popen(
        [sys.executable, "-m", "harvest", "up", "--port", str(port), "--workers", "1"],
        env=env | {"COLUMNS": "200"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    demo, site = DemoSite(), LocalSite()
    try:
        demo.start()
        site.start()
        engine = get_engine(settings)
        apply_sources(engine, [parse_spec(demo_source_spec(demo.base))])
        import_records(engine, read_records(CATALOG), None)
        wait_for_port(port, 120)
        running = Stack(f"http://127.0.0.1:{port}", settings, demo, site)
        run = running.api("POST", "/api/sources/demo/run")
        view = running.wait_pipeline(run["id"])
        assert view["status"] == "succeeded", view
        yield running
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        log.close()
        demo.stop()
        site.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page whose console errors, uncaught exceptions and failed requests are collected; a test may
    declare the HTTP errors it provokes on purpose (e.g. a 422 from an invalid form)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        self.expected_statuses: set[int] = set()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type != "error":
            return
        text = str(message.text)
        if any(f"status of {status}" in text for status in self.expected_statuses):
            return
        self.problems.append(f"console: {text}")

    def _failed(self, request: Any) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:  # a navigation or a superseded fetch, not a failure
            return
        self.problems.append(f"request failed: {request.method} {request.url} {failure}")

    def _response(self, response: Any) -> None:
        if response.status >= 400 and response.status not in self.expected_statuses:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def shoot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        width = self.page.viewport_size["width"]
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)


@pytest.fixture
def ui(browser: Any, stack: Stack, request: pytest.FixtureRequest) -> Iterator[Watched]:
    """A fresh browser context with the token already entered (sessionStorage), at 1280 px; the last
    screen is kept as a screenshot (failed-<test>) when the test fails."""
    context = browser.new_context(viewport=DESKTOP, base_url=stack.url)
    context.add_init_script(f"sessionStorage.setItem('harvest.token', {TOKEN!r})")
    context.set_default_timeout(20_000)
    watched = Watched(context.new_page())
    failed_before = request.session.testsfailed
    try:
        yield watched
    finally:
        if request.session.testsfailed > failed_before:
            watched.shoot(f"failed-{request.node.name}")
        context.close()
    assert not watched.problems, "\n".join(watched.problems)
