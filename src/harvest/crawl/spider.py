"""The Scrapy spider for one source: start URLs, sitemaps and known pages in, PageOutcome items out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.linkextractors import IGNORED_EXTENSIONS, LinkExtractor
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.sitemap import Sitemap, sitemap_urls_from_robots
from twisted.python.failure import Failure

from harvest.crawl.browser_guard import active_guard, close_popup
from harvest.crawl.limits import CrawlLimits, TrapGuard
from harvest.crawl.revisit import KnownPage, is_due, parse_lastmod
from harvest.crawl.spec import SourceSpec
from harvest.crawl.writer import CrawlWriter, PageOutcome

HANDLED_STATUSES = [304, 404, 410]
# Scrapy skips links to documents by default; PDFs are crawled (the process stage records them as skipped).
FOLLOWED_EXTENSIONS_DENY = [ext for ext in IGNORED_EXTENSIONS if ext != "pdf"]


@dataclass(frozen=True)
class CrawlPlan:
    """Everything the spider needs, read from PostgreSQL before the crawl starts."""

    run_id: int
    source_id: int
    spec: SourceSpec
    limits: CrawlLimits
    # URLs fetched before, with their depth: the recrawl frontier.
    known: dict[str, int] = field(default_factory=dict)
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    # known pages a recrawl may leave alone while they are not due (empty with --full)
    schedule: dict[str, KnownPage] = field(default_factory=dict)
    revisit_max_s: int = 0
    intervals: dict[str, int] = field(default_factory=dict)  # each known page's learned interval


class HarvestSpider(scrapy.Spider):
    name = "harvest"

    def __init__(self, plan: CrawlPlan, writer: CrawlWriter | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.writer = writer  # read by RawStorePipeline
        spec = plan.spec
        self.allowed_domains = spec.allowed_domains
        # Domains are checked by in_scope: LinkExtractor's allow_domains compares host:port, so it
        # would drop every link of a site served on a port.
        self.link_extractor = LinkExtractor(
            allow=spec.include, deny=spec.exclude, unique=True, deny_extensions=FOLLOWED_EXTENSIONS_DENY
        )
        self.include = [re.compile(p) for p in spec.include]
        self.exclude = [re.compile(p) for p in spec.exclude]
        self.scheduled: set[str] = set()
        self.traps = TrapGuard(plan.limits)
        self.not_due: set[str] = set()  # known pages not asked for: kept as they are
        # With sitemaps, known pages wait for them: a <lastmod> may make a page due, or not.
        self.held: dict[str, int] = {}
        self.lastmods: dict[str, datetime] = {}
        self.sitemaps_pending = 0
        self.sitemaps_seen: set[str] = set(plan.spec.sitemap_urls)
        self.now = datetime.now(UTC)

    # -- requests ----------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        for url in self.plan.spec.start_urls:
            request = self.page_request(url, depth=0, seed=True, start=True)
            if request is not None:
                yield request
        due: list[tuple[str, int]] = []
        for url, depth in sorted(self.plan.known.items(), key=lambda item: (item[1], item[0])):
            if url in self.scheduled:
                continue
            known = self.plan.schedule.get(url)
            if known is not None and self.plan.spec.sitemap_urls:
                self.held[url] = depth
                self.scheduled.add(url)  # links to it wait for the sitemaps' word too
            elif known is not None and not is_due(known, self.now, self.plan.revisit_max_s):
                self.skip(url)
            else:
                due.append((url, depth))
        # all created (and counted) before the first is read, so "every sitemap done" cannot come early
        for request in [self.sitemap_request(url) for url in self.plan.spec.sitemap_urls]:
            yield request
        for url, depth in due:
            request = self.page_request(url, depth=depth)
            if request is not None:
                yield request

    def skip(self, url: str) -> None:
        """A known page that is not due: not asked for, kept as it is (never taken for gone)."""
        self.scheduled.add(url)
        self.not_due.add(url)

    def sitemap_request(self, url: str) -> scrapy.Request:
        self.sitemaps_pending += 1
        return scrapy.Request(
            url,
            callback=self.parse_sitemap,
            errback=self.sitemap_failed,
            dont_filter=True,
            meta={"harvest_depth": 0, "harvest_unconditional": True},
        )

    def release_held(self) -> Iterator[scrapy.Request]:
        """The known pages held for the sitemaps, now that every sitemap has been read (or failed)."""
        held, self.held = self.held, {}
        for url, depth in sorted(held.items(), key=lambda item: (item[1], item[0])):
            known = self.plan.schedule[url]
            if not is_due(known, self.now, self.plan.revisit_max_s, self.lastmods.get(url)):
                self.not_due.add(url)
                continue
            self.scheduled.discard(url)
            request = self.page_request(url, depth=depth)
            if request is not None:
                yield request

    def in_scope(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        if not any(host == d or host.endswith("." + d) for d in self.plan.spec.allowed_domains):
            return False
        if self.include and not any(p.search(url) for p in self.include):
            return False
        return not any(p.search(url) for p in self.exclude)

    def page_request(
        self, url: str, *, depth: int, seed: bool = False, start: bool = False
    ) -> scrapy.Request | None:
        """A request for a page, or None when it is seen, out of scope (seeds are in scope) or stopped
        by a limit (start URLs never are: the user asked for them)."""
        spec = self.plan.spec
        url = url.split("#", 1)[0]
        if url in self.scheduled or (not seed and not self.in_scope(url)):
            return None
        if not start and self.traps.refusal(url, depth=depth, scheduled=len(self.scheduled)) is not None:
            return None
        self.scheduled.add(url)
        render = spec.render_for(url)
        meta: dict[str, Any] = {
            "harvest_depth": depth,
            "harvest_render": render,
            "handle_httpstatus_list": HANDLED_STATUSES,
        }
        if render == "browser":
            meta["playwright"] = True
            meta["playwright_page_event_handlers"] = {"popup": close_popup}
            if spec.wait_for:
                from scrapy_playwright.page import PageMethod

                meta["playwright_page_methods"] = [PageMethod("wait_for_selector", spec.wait_for)]
        return scrapy.Request(url, callback=self.parse, errback=self.failed, meta=meta, dont_filter=True)

    # -- responses ---------------------------------------------------------------------------------
    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        depth = int(response.meta.get("harvest_depth", 0))
        url = (response.meta.get("redirect_urls") or [response.url])[0]  # the URL we asked for
        common = {
            "url": url,
            "depth": depth,
            "http_status": response.status,
            "render_mode": response.meta.get("harvest_render", "static"),
        }
        headers = {
            key.decode("latin-1").lower(): values[-1].decode("latin-1")
            for key, values in response.headers.items()
            if values
        }
        if response.status == 304:  # its Cache-Control / Expires say how long the page stays fresh
            yield PageOutcome("not_modified", headers=headers, **common)
            return
        if response.status in (404, 410):
            yield PageOutcome("gone", **common)
            return
        yield PageOutcome(
            "fetched",
            final_url=response.url,
            headers=headers,
            body=response.body,
            content_type=headers.get("content-type"),
            **common,
        )
        if isinstance(response, TextResponse):
            try:
                links = self.link_extractor.extract_links(response)
            except (ValueError, TypeError, AttributeError):
                links = []  # malformed markup: keep the page, skip its links
            for link in links:
                request = self.page_request(link.url, depth=depth + 1)
                if request is not None:
                    yield request

    def parse_sitemap(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        yield from self._read_sitemap(response)
        yield from self._sitemap_done()

    def sitemap_failed(self, failure: Failure) -> Iterator[Any]:
        yield from self.failed(failure)
        yield from self._sitemap_done()

    def _sitemap_done(self) -> Iterator[Any]:
        self.sitemaps_pending -= 1
        if self.sitemaps_pending == 0:
            yield from self.release_held()

    def _read_sitemap(self, response: Response) -> Iterator[Any]:
        body = response.body
        if response.url.endswith("/robots.txt") and isinstance(response, TextResponse):
            for url in sitemap_urls_from_robots(response.text, base_url=response.url):
                if url not in self.sitemaps_seen:
                    self.sitemaps_seen.add(url)
                    yield self.sitemap_request(url)
            return
        try:
            sitemap = Sitemap(body)
        except Exception:
            yield PageOutcome("failed", url=response.url, reason="not a valid sitemap")
            return
        for entry in sitemap:
            location = entry.get("loc")
            if not location:
                continue
            if sitemap.type == "sitemapindex":
                if location not in self.sitemaps_seen:  # an index that lists itself is no loop
                    self.sitemaps_seen.add(location)
                    yield self.sitemap_request(location)
                continue
            location = location.split("#", 1)[0]
            lastmod = parse_lastmod(entry.get("lastmod"))
            if lastmod is not None:
                self.lastmods[location] = lastmod
            if location in self.held:
                continue  # decided once every sitemap is read
            request = self.page_request(location, depth=0, seed=True)
            if request is not None:
                yield request

    def failed(self, failure: Failure) -> Iterator[PageOutcome]:
        request = getattr(failure, "request", None)
        url = (request.meta.get("redirect_urls") or [request.url])[0] if request is not None else "?"
        depth = int(request.meta.get("harvest_depth", 0)) if request is not None else 0
        error = failure.value
        if isinstance(error, IgnoreRequest) and "robots.txt" in str(error):
            yield PageOutcome("robots", url=url, depth=depth, reason="disallowed by robots.txt")
            return
        yield PageOutcome("failed", url=url, depth=depth, reason=describe_failure(failure, self.settings))


def describe_failure(failure: Failure, settings: Any) -> str:
    """One readable reason for a failed request."""
    error = failure.value
    limit_mb = settings.getint("DOWNLOAD_MAXSIZE") / (1024 * 1024)
    if isinstance(error, HttpError):
        return f"HTTP {error.response.status}"
    if isinstance(error, IgnoreRequest):
        if "during decompression" in str(error):  # a compression bomb, stopped while inflating
            return f"response larger than {limit_mb:g} MiB once decompressed (HARVEST_CRAWL_MAX_RESPONSE_MB)"
        return str(error) or "request ignored"
    name = type(error).__name__
    message = failure.getErrorMessage()
    if "page is navigating" in message:
        return "the page kept navigating away (script or meta refresh) while it was read"
    if "ERR_SOCKS_CONNECTION_FAILED" in message and (guard := active_guard()) is not None:
        request = getattr(failure, "request", None)
        return guard.explain(request.url if request is not None else "")
    if name == "CancelledError" or "larger than" in message or "maxsize" in message.lower():
        return f"response larger than {limit_mb:g} MiB (HARVEST_CRAWL_MAX_RESPONSE_MB)"
    if name == "DownloadTimeoutError" or (
        name in {"TimeoutError", "TCPTimedOutError", "ResponseNeverReceived"} and "timeout" in message.lower()
    ):
        return f"timed out: {message}"
    if name in {"DNSLookupError", "CannotResolveHostError", "RefusedAddressError"}:
        if "refused: " in message:  # our resolver refused the address (harvest.crawl.resolver)
            return message[message.index("refused: ") :]
        return f"host not found: {message}"
    if name in {"ConnectionRefusedError", "ConnectError", "DownloadConnectionRefusedError"}:
        return f"connection refused: {message}"
    return f"{name}: {message}"[:500]
