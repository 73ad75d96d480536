"""The crawl part of the hostile inputs corpus: pages built to hurt a crawler, and a canary.

The site is on 127.0.0.1 (allow-listed); the canary on 127.0.0.2 is not, and every SSRF page tries to
make the crawler or Chromium reach it: redirects (HTTP, JS, meta refresh, forms, other spellings of its
address), subresources of every kind, WebSockets, workers, service workers. The canary must see no
connection at all. The other pages: bad encodings, deep nesting, a gzip bomb, a redirect loop, traps.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harvest.crawl.runner import run_crawl
from harvest.crawl.runs import RunView, get_run
from harvest.crawl.sources import add_source
from harvest.crawl.spec import parse_spec
from harvest.db.engine import get_engine
from harvest.process.extract import Extraction, extract_page
from harvest.settings import Settings
from harvest.storage import open_raw_store
from tests.conftest import make_settings
from tests.sites.hostile import CALENDAR_START_YEAR, CANARY_MARKER, JAPANESE, Canary
from tests.sites.testsite import LocalSite

CHROMIUM = Path("/usr/bin/chromium")
SSRF_PAGES = ["redirect", "redirect-chain", "js-redirect", "meta-refresh", "form-post", "subresources"]


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    server = Canary().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(canary: Canary) -> Iterator[LocalSite]:
    server = LocalSite()
    server.canary = canary.base
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def settings(db_settings: Settings) -> Settings:
    return make_settings(
        **db_settings.model_dump()
        | {
            "crawl_allowed_hosts": ["127.0.0.1"],  # the site; never 127.0.0.2, the canary
            "crawl_timeout_s": 5.0,
            "crawl_max_response_mb": 1.0,
            "crawl_retries": 0,
        }
    )


_names = iter(range(1000))


def crawl(settings: Settings, site: LocalSite, paths: list[str], **fields: object) -> RunView:
    name = f"hostile{next(_names)}-{os.getpid()}"
    urls = [site.base + path for path in paths]
    add_source(get_engine(settings), parse_spec({"name": name, "start_urls": urls, **fields}))
    run = run_crawl(settings, name)
    return get_run(get_engine(settings), run.id, error_limit=500)


def stored(settings: Settings, run: RunView) -> dict[str, bytes]:
    with open_raw_store(settings) as raw:
        return {p.url.split("/", 3)[3]: p.body for p in raw.changed_since(0, source=run.source)}


def errors(run: RunView) -> dict[str, str]:
    return {url.split("/", 3)[3]: reason for url, reason in run.errors}


def test_static_crawl_of_hostile_pages(settings: Settings, site: LocalSite, canary: Canary) -> None:
    hostile = [
        "redirect",
        "redirect-chain",
        "redirect-decimal",
        "redirect-mapped",
        "redirect-file",
        "gzip-bomb",
        "deep-nesting",
        "cp1252-meta",
        "cp1252-wrong-header",
        "latin1-undeclared",
        "shift-jis",
        "utf8-bom",
    ]
    run = crawl(settings, site, [f"/hostile/{p}" for p in hostile] + ["/loop/a"], max_depth=0)
    assert canary.connections == []
    failed = errors(run)
    for page in ("redirect", "redirect-chain", "redirect-decimal", "redirect-mapped"):
        reason = failed[f"hostile/{page}"]
        assert "refused" in reason and "127.0.0.2" in reason and "loopback" in reason, reason
    assert failed["hostile/redirect-file"] == "HTTP 302"  # a redirect to file:// is not followed
    assert "larger than 1 MiB" in failed["hostile/gzip-bomb"]
    assert "redirect" in failed["loop/a"]
    assert run.status == "partial" and run.counts["failed"] == 7, run

    pages = stored(settings, run)
    assert not any(CANARY_MARKER in body for body in pages.values())
    assert b"twenty thousand nested" in pages["hostile/deep-nesting"]
    texts = {}
    for page in ("cp1252-meta", "cp1252-wrong-header", "latin1-undeclared", "shift-jis", "utf8-bom"):
        result = extract_page(
            pages[f"hostile/{page}"], url=f"{site.base}/hostile/{page}", content_type="text/html"
        )
        assert isinstance(result, Extraction), (page, result)
        texts[page] = result.text
    for page in ("cp1252-meta", "cp1252-wrong-header", "latin1-undeclared", "utf8-bom"):
        assert "\ufffd" not in texts[page] and "Café crème" in texts[page], (page, texts[page])
    for page in ("cp1252-meta", "cp1252-wrong-header", "utf8-bom"):
        assert "cœur à l\u2019ouvrage" in texts[page], (page, texts[page])
    assert texts["shift-jis"] == JAPANESE


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_browser_rendering_never_reaches_a_refused_address(
    settings: Settings, site: LocalSite, canary: Canary
) -> None:
    run = crawl(
        settings, site, [f"/hostile/{p}" for p in SSRF_PAGES], render="browser", max_depth=0, concurrency=6
    )
    assert canary.connections == [], canary.connections
    pages = stored(settings, run)
    assert not any(CANARY_MARKER in body for body in pages.values())
    # navigations that would end on the canary store nothing and say why
    failed = errors(run)
    for page in ("redirect", "redirect-chain"):  # HTTP redirects: Chromium follows them by itself
        assert f"hostile/{page}" not in pages, pages
        assert failed[f"hostile/{page}"].startswith("refused: the browser was sent to a non-public address")
        assert "127.0.0.2" in failed[f"hostile/{page}"]
    for page in ("js-redirect", "meta-refresh", "form-post"):
        # failed (refused, or still navigating when read), or read before it left: never both
        assert (f"hostile/{page}" in failed) != (f"hostile/{page}" in pages), (page, failed, list(pages))
    # the page itself is kept; what it tried to load from the canary was refused
    assert b"SUBRESOURCES PAGE" in pages["hostile/subresources"]


def test_traps_stop_at_their_limits_and_the_run_says_why(settings: Settings, site: LocalSite) -> None:
    # two limits set on the source (smaller than the defaults, to keep the crawl short); the others
    # are the defaults
    run = crawl(settings, site, ["/trap/"], max_depth=15, max_query_variants=20)
    assert run.status == "succeeded", run.message
    fetched = stored(settings, run)
    calendar = sorted(url for url in fetched if url.startswith("trap/calendar"))
    # the endless "next month" link: followed through next year, stopped at the first month beyond
    assert len(calendar) == 12 and calendar[-1].endswith(f"{CALENDAR_START_YEAR}-12")
    assert run.limits["max_years_ahead"]["count"] == 1
    assert run.limits["max_years_ahead"]["example"].endswith(f"month={CALENDAR_START_YEAR + 1}-01")
    assert set(run.limits) == {
        "max_years_ahead",
        "max_depth",
        "max_path_repeats",
        "max_query_variants",
        "max_url_length",
    }
    assert sum(url.startswith("trap/deep/") for url in fetched) == 15  # /trap/deep/1 to 15
    assert run.limits["max_depth"] == {"count": 1, "limit": 15, "example": f"{site.base}/trap/deep/16"}
    assert sum(url.startswith("trap/facets") for url in fetched) == 20
    assert "trap/loop/a/b/a/b/" in fetched and "trap/loop/a/b/a/b/a/b/" not in fetched
    assert run.message is not None and run.message.startswith("not followed:")
    assert "1 link calendar pages dated more than 1 year(s) ahead" in run.message
    assert "--max-depth / HARVEST_CRAWL_MAX_DEPTH" in run.message
    assert len(run.message) < 2000  # the 3,000-character URL is shortened in the message
