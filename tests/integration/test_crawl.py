"""Crawling the local test site for real: Scrapy in its own process, Chromium for browser sources."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harvest.crawl.runner import run_crawl
from harvest.crawl.runs import RunView, list_runs
from harvest.crawl.sources import add_source
from harvest.crawl.spec import parse_spec
from harvest.db.engine import get_engine
from harvest.db.models import Page
from harvest.settings import Settings, settings_env
from harvest.storage import RawStore, open_raw_store
from tests.conftest import make_settings
from tests.sites.testsite import LocalSite

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    server = LocalSite()
    server.slow_seconds = 3.0
    server.start()
    yield server
    server.stop()


def crawl_settings(base: Settings, **overrides: object) -> Settings:
    values = base.model_dump() | {
        "crawl_allowed_hosts": ["127.0.0.1"],
        "crawl_timeout_s": 1.0,
        "crawl_max_response_mb": 1.0,
        "crawl_retries": 1,
    }
    return make_settings(**(values | overrides))


@pytest.fixture(params=["postgresql", "mongodb"])
def settings(request: pytest.FixtureRequest, db_settings: Settings) -> Settings:
    if request.param == "mongodb":
        return crawl_settings(db_settings, raw_store_url=request.getfixturevalue("mongo_url"))
    return crawl_settings(db_settings)


@pytest.fixture
def pg_settings(db_settings: Settings) -> Settings:
    return crawl_settings(db_settings)


_counter = iter(range(10_000))


def new_source(settings: Settings, site: LocalSite, path: str = "/", **fields: object) -> str:
    name = f"src{next(_counter)}-{os.getpid()}"
    add_source(get_engine(settings), parse_spec({"name": name, "start_urls": [site.base + path], **fields}))
    return name


def stored(settings: Settings, source: str) -> dict[str, bytes]:
    with open_raw_store(settings) as raw:
        return {p.url.split("/", 3)[3]: p.body for p in raw.changed_since(0, source=source)}


def test_static_source_stores_pages_and_records_each_failure(settings: Settings, site: LocalSite) -> None:
    source = new_source(settings, site)
    run = run_crawl(settings, source)
    # some pages failed, the others are kept: "partial", saying how many and where to look
    assert run.status == "partial", run.message
    assert run.message is not None
    assert "4 of 18 pages failed" in run.message and f"harvest runs show {run.id}" in run.message
    pages = stored(settings, source)
    expected = {
        "",
        "articles/1",
        "articles/2",
        "articles/3",
        "articles/4",
        "articles/5",
        "about",
        "js",
        "redirect-to-article",
        "latin1",
        "malformed",
        "report.pdf",
    }
    assert set(pages) == expected
    assert b"JS-INSERTED-TEXT" not in pages["js"]  # static: the script did not run
    assert pages["latin1"] == site.pages["/latin1"][1]  # bytes exactly as served
    assert pages["redirect-to-article"] == site.pages["/articles/1"][1]
    errors = {url.split("/", 3)[3]: reason for url, reason in _errors(settings, run)}
    assert errors["private/secret"] == "disallowed by robots.txt"
    assert errors["error500"] == "HTTP 500"
    assert "larger than 1 MiB" in errors["huge"]
    assert "redirect" in errors["loop/a"]
    assert "took longer than 1.0 seconds" in errors["slow"]
    counts = run.counts
    assert (counts["new"], counts["changed"], counts["unchanged"]) == (len(expected), 0, 0)
    assert (counts["failed"], counts["robots_skipped"], counts["gone"]) == (4, 1, 2)  # gone: /gone, /contact
    with Session(get_engine(settings)) as session:
        states = dict(
            session.execute(select(Page.url, Page.state).where(Page.url.like(f"{site.base}/%"))).all()
        )
    assert states[f"{site.base}/gone"] == "gone"


def _errors(settings: Settings, run: RunView) -> list[tuple[str, str]]:
    from harvest.crawl.runs import get_run

    return get_run(get_engine(settings), run.id).errors


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_browser_source_stores_the_rendered_dom(settings: Settings, site: LocalSite) -> None:
    source = new_source(settings, site, "/js", render="browser", wait_for="#rendered", max_pages=1)
    run = run_crawl(settings, source)
    assert run.status == "succeeded", run.message
    with open_raw_store(settings) as raw:
        page = raw.latest(source, site.base + "/js")
    assert page is not None
    assert b"JS-INSERTED-TEXT" in page.body
    assert page.render_mode == "browser"


def test_recrawl_of_an_unchanged_site_adds_nothing_and_one_edit_adds_one_version(
    pg_settings: Settings, site: LocalSite
) -> None:
    source = new_source(pg_settings, site, exclude=["/slow", "/huge", "/loop/"])
    first = run_crawl(pg_settings, source)
    with open_raw_store(pg_settings) as raw:
        before = raw.count(source)
    served_304 = sum(site.not_modified.values())

    again = run_crawl(pg_settings, source, full=True)  # --full: every page revalidated, due or not
    assert again.status == "partial"  # /error500 fails again
    assert (again.counts["new"], again.counts["changed"]) == (0, 0)
    assert again.counts["unchanged"] == first.counts["new"]
    assert sum(site.not_modified.values()) > served_304  # conditional requests were sent and honoured
    with open_raw_store(pg_settings) as raw:
        assert raw.count(source) == before

    original = site.pages["/articles/2"]
    site.set_page("/articles/2", original[1].decode().replace("Second paragraph", "An edited paragraph"))
    try:
        edited = run_crawl(pg_settings, source, full=True)
    finally:
        site.pages["/articles/2"] = original
    assert (edited.counts["new"], edited.counts["changed"]) == (0, 1)
    with open_raw_store(pg_settings) as raw:
        assert raw.count(source) == before + 1
        latest = raw.latest(source, site.base + "/articles/2")
    assert latest is not None and latest.version == 2 and b"An edited paragraph" in latest.body


def _cli(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "harvest", *args],
        env=settings_env(settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _wait_for_pages(settings: Settings, source: str, at_least: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = list_runs(get_engine(settings), source, limit=1)
        if runs and runs[0].counts["fetched"] >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError(f"the crawl did not fetch {at_least} pages in {timeout_s}s")


def _versions_per_url(raw: RawStore, source: str) -> dict[str, int]:
    versions: dict[str, int] = {}
    for page in raw.changed_since(0, source=source):
        versions[page.url] = versions.get(page.url, 0) + 1
    return versions


@pytest.mark.slow
def test_sigkill_mid_crawl_then_rerun_loses_and_duplicates_nothing(
    pg_settings: Settings, site: LocalSite
) -> None:
    source = new_source(pg_settings, site, "/gen/0", max_pages=80, concurrency=2)
    site.delay_s = 0.05
    try:
        cli = _cli(pg_settings, "crawl", source)
        _wait_for_pages(pg_settings, source, 15)
        workers = [
            p
            for p in psutil.Process(cli.pid).children(recursive=True)
            if "harvest.crawl.worker" in " ".join(p.cmdline())
        ]
        assert len(workers) == 1
        workers[0].send_signal(signal.SIGKILL)
        cli.wait(timeout=30)
        assert cli.returncode == 1
        killed = list_runs(get_engine(pg_settings), source, limit=1)[0]
        assert killed.status == "interrupted"
        assert killed.counts["fetched"] < 80

        rerun = run_crawl(pg_settings, source)
    finally:
        site.delay_s = 0.0
    assert rerun.status == "succeeded", rerun.message
    with open_raw_store(pg_settings) as raw:
        versions = _versions_per_url(raw, source)
    assert len(versions) == 80  # nothing lost: every page of the site within max_pages is stored
    assert set(versions.values()) == {1}  # nothing duplicated
    with Session(get_engine(pg_settings)) as session:
        count = session.scalar(
            select(func.count()).select_from(Page).where(Page.url.like(f"{site.base}/gen/%"))
        )
    assert count == 80


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_what_was_fetched(pg_settings: Settings, site: LocalSite) -> None:
    # 2,000 pages at 0.05 s each: far longer than the test waits, even on a loaded machine
    source = new_source(pg_settings, site, "/gen/1000", max_pages=2000, concurrency=1)
    site.delay_s = 0.05
    try:
        cli = _cli(pg_settings, "crawl", source)
        _wait_for_pages(pg_settings, source, 10)
        cli.send_signal(signal.SIGINT)
        _, stderr = cli.communicate(timeout=60)
    finally:
        site.delay_s = 0.0
    assert cli.returncode == 130, stderr.decode()
    run = list_runs(get_engine(pg_settings), source, limit=1)[0]
    assert run.status == "cancelled"
    with open_raw_store(pg_settings) as raw:
        versions = _versions_per_url(raw, source)
    assert 10 <= len(versions) < 2000
    assert run.counts["new"] == len(versions)  # every fetched page was written before exit


def test_private_addresses_are_refused_without_an_allow_list(db_settings: Settings, site: LocalSite) -> None:
    settings = crawl_settings(db_settings, crawl_allowed_hosts=[])
    source = new_source(settings, site)
    run = run_crawl(settings, source)
    assert run.counts["fetched"] == 0
    [(_url, reason)] = _errors(settings, run)
    assert "non-public address 127.0.0.1 (loopback)" in reason
    assert "HARVEST_CRAWL_ALLOWED_HOSTS" in reason
    # nothing fetched: the run failed, and says why
    assert run.status == "failed"
    assert run.message is not None and "no page could be fetched (1 failed)" in run.message
    assert "non-public address 127.0.0.1" in run.message
