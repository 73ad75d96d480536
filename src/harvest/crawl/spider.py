"""The Scrapy spider for one source: start URLs, sitemaps and known pages in, PageOutcome items out."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
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

    # -- requests ----------------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        for url in self.plan.spec.start_urls:
            request = self.page_request(url, depth=0, seed=True, start=True)
            if request is not None:
                yield request
        for url in self.plan.spec.sitemap_urls:
            yield scrapy.Request(
                url,
                callback=self.parse_sitemap,
                errback=self.failed,
                dont_filter=True,
                meta={"harvest_depth": 0, "harvest_unconditional": True},
            )
        for url, depth in sorted(self.plan.known.items(), key=lambda item: (item[1], item[0])):
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
        if response.status == 304:
            yield PageOutcome("not_modified", **common)
            return
        if response.status in (404, 410):
            yield PageOutcome("gone", **common)
            return
        headers = {
            key.decode("latin-1").lower(): values[-1].decode("latin-1")
            for key, values in response.headers.items()
            if values
        }
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
        body = response.body
        if response.url.endswith("/robots.txt") and isinstance(response, TextResponse):
            for url in sitemap_urls_from_robots(response.text, base_url=response.url):
                yield scrapy.Request(url, callback=self.parse_sitemap, errback=self.failed)
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
                yield scrapy.Request(
                    location,
                    callback=self.parse_sitemap,
                    errback=self.failed,
                    meta={"harvest_unconditional": True},
                )
            else:
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
