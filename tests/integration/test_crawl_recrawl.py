"""Recrawls ask only for what is due: adaptive revisit intervals, Cache-Control, sitemap lastmod, --full.

Time passing is simulated by moving a page's schedule (next_due_at / last_fetched_at) into the past,
as a clock would; everything else is a real crawl of a real site.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from harvest.crawl.runner import run_crawl
from harvest.crawl.sources import add_source, source_id
from harvest.crawl.spec import parse_spec
from harvest.db.engine import get_engine
from harvest.db.models import Page
from harvest.settings import Settings
from harvest.storage import open_raw_store
from tests.conftest import make_settings
from tests.sites.testsite import LocalSite, article

ARTICLES = [f"/articles/{n}" for n in range(1, 6)]
HOUR = 3600
MAX_S = 7 * 86400


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    server = LocalSite().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def settings(db_settings: Settings) -> Settings:
    return make_settings(
        **db_settings.model_dump()
        | {
            "crawl_allowed_hosts": ["127.0.0.1"],
            "crawl_timeout_s": 30.0,  # a loaded machine must not turn a page into a failure
            "crawl_retries": 1,
            "crawl_revisit_min": HOUR,
            "crawl_revisit_max": MAX_S,
        }
    )


def source_of(settings: Settings, site: LocalSite, name: str, **fields: object) -> str:
    # the articles link to each other: five pages (and the sitemap) make the whole source
    spec = {"name": name, "start_urls": [site.base + "/articles/1"], "include": ["/articles/"], **fields}
    add_source(get_engine(settings), parse_spec(spec))
    _ids[name] = source_id(get_engine(settings), name)
    return name


_ids: dict[str, int] = {}


def source_id_of(name: str) -> int:
    return _ids[name]


def of(source: str, site: LocalSite, path: str) -> ColumnElement[bool]:
    return and_(Page.url == site.base + path, Page.source_id == source_id_of(source))


def schedule(settings: Settings, source: str, site: LocalSite, path: str) -> Page:
    with Session(get_engine(settings), expire_on_commit=False) as session:
        return session.scalars(select(Page).where(of(source, site, path))).one()


def age(
    settings: Settings, source: str, site: LocalSite, path: str, *, due: bool = False, by_s: int = 0
) -> None:
    """As if time had passed: the page is due now, and/or was last fetched `by_s` seconds earlier."""
    values: dict[str, object] = {"last_fetched_at": Page.last_fetched_at - timedelta(seconds=by_s)}
    if due:
        values["next_due_at"] = datetime.now(UTC) - timedelta(seconds=1)
    with get_engine(settings).begin() as conn:
        conn.execute(update(Page).where(of(source, site, path)).values(**values))


def latest_body(settings: Settings, source: str, site: LocalSite, path: str) -> bytes:
    with open_raw_store(settings) as raw:
        page = raw.latest(source, site.base + path)
    assert page is not None
    return page.body


def test_a_recrawl_asks_only_for_what_is_due_and_picks_up_a_change_once_due(
    settings: Settings, site: LocalSite
) -> None:
    source = source_of(settings, site, "due")
    site.extra_headers["/articles/5"] = {"Cache-Control": "public, max-age=172800"}  # fresh for 2 days
    first = run_crawl(settings, source)
    assert (first.status, first.counts["new"], first.counts["not_due"]) == ("succeeded", 5, 0)
    assert schedule(settings, source, site, "/articles/2").revisit_interval_s == HOUR
    five = schedule(settings, source, site, "/articles/5")
    assert five.next_due_at is not None and five.last_fetched_at is not None
    assert five.next_due_at - five.last_fetched_at == timedelta(days=2)  # the server's freshness wins

    asked = site.requests.copy()
    site.set_page("/articles/2", article(2, "An edited article two, changed after the first crawl."))
    again = run_crawl(settings, source)
    # the start URL is always asked for; the four other pages are not due: kept, not requested
    assert again.status == "succeeded", again.message
    assert (again.counts["fetched"], again.counts["unchanged"], again.counts["not_due"]) == (1, 1, 4)
    assert site.requests - asked == {"/robots.txt": 1, "/articles/1": 1}
    assert (
        schedule(settings, source, site, "/articles/1").revisit_interval_s == 2 * HOUR
    )  # unchanged: doubled
    assert schedule(settings, source, site, "/articles/2").state == "active"  # skipped pages are kept

    age(settings, source, site, "/articles/2", due=True)  # an hour later: its interval is up
    picked = run_crawl(settings, source)
    assert (picked.counts["changed"], picked.counts["not_due"]) == (1, 3)
    assert b"An edited article two" in latest_body(settings, source, site, "/articles/2")
    assert (
        schedule(settings, source, site, "/articles/2").revisit_interval_s == HOUR
    )  # changed: halved, >= MIN

    full = run_crawl(settings, source, full=True)
    assert (full.counts["fetched"], full.counts["not_due"]) == (5, 0)


def test_sitemap_lastmod_makes_pages_due_or_not_and_a_lying_sitemap_loses_nothing(
    settings: Settings, site: LocalSite
) -> None:
    source = source_of(settings, site, "mapped", sitemap_urls=[site.base + "/sitemap.xml"])
    long_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    site.sitemap_lastmod = dict.fromkeys(ARTICLES, long_ago)
    first = run_crawl(settings, source)
    assert first.counts["fetched"] == 5

    # /articles/3 changed and the sitemap says so: due at once, although its interval is not up.
    # /articles/4 changed too, but the sitemap lies (an old lastmod), and its interval is up.
    site.set_page("/articles/3", article(3, "Article three was rewritten, and its lastmod says so."))
    site.sitemap_lastmod["/articles/3"] = datetime.now(UTC).isoformat()
    site.set_page("/articles/4", article(4, "Article four was rewritten, but its lastmod did not move."))
    age(settings, source, site, "/articles/4", due=True)
    told = run_crawl(settings, source)
    assert (told.counts["changed"], told.counts["not_due"]) == (1, 3)  # 3 fetched; 2, 4, 5 skipped
    assert b"rewritten, and its lastmod" in latest_body(settings, source, site, "/articles/3")
    assert b"Article four was rewritten" not in latest_body(settings, source, site, "/articles/4")

    # the sitemap is trusted for at most HARVEST_CRAWL_REVISIT_MAX after a page's last fetch
    age(settings, source, site, "/articles/4", due=True, by_s=MAX_S + HOUR)
    caught = run_crawl(settings, source)
    assert caught.counts["changed"] == 1
    assert b"Article four was rewritten" in latest_body(settings, source, site, "/articles/4")

    # and --full asks for everything, whatever the sitemap says
    site.set_page("/articles/5", article(5, "Article five changed quietly, with no lastmod and no due date."))
    full = run_crawl(settings, source, full=True)
    assert (full.counts["changed"], full.counts["not_due"]) == (1, 0)
    assert b"Article five changed quietly" in latest_body(settings, source, site, "/articles/5")
