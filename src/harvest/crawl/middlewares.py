"""Scrapy downloader middlewares: the SSRF guard, conditional requests, and retries with backoff."""

from __future__ import annotations

import asyncio
from ipaddress import IPv4Address, IPv6Address
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider
from scrapy.core.downloader import Slot
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Response

from harvest.crawl.browser_guard import active_guard
from harvest.crawl.safety import (
    FETCHED_SCHEMES,
    AddressPolicy,
    UnresolvableHostError,
    UnsafeURLError,
    crawl_policy,
)


class AddressPolicyMiddleware:
    """Refuses non-http(s) URLs and non-public addresses (unless allow-listed) before any byte is sent,
    and refuses a response that came from a non-public address anyway.

    Redirects pass through downloader middlewares again, so a public URL redirecting to an internal
    one is refused too. The connection itself is pinned to the checked addresses by
    `harvest.crawl.resolver`; the response check covers what could still slip past (a proxy, a parser
    that reads the host differently). A browser response is judged by where its navigation ended."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressPolicyMiddleware:
        return cls(crawl_policy(tuple(crawler.settings.getlist("HARVEST_ALLOWED_ADDRESSES"))))

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        try:
            self.policy.check(request.url)
        except UnresolvableHostError:
            return  # not refused: the download fails "host not found" (and is retried like one)
        except UnsafeURLError as error:
            raise IgnoreRequest(f"refused: {error}") from error

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Response:
        try:
            if "playwright" in response.flags:
                # Chromium connects through the guard's proxy, so the peer is the proxy: the URL the
                # navigation ended on (after redirects, JS or meta refresh) is what must be allowed.
                if urlsplit(response.url).scheme not in FETCHED_SCHEMES:
                    raise IgnoreRequest(_left_the_page(response.url))
                self.policy.check(response.url)
            elif isinstance(response.ip_address, IPv4Address | IPv6Address) and not request.meta.get(
                "proxy"  # through an HTTP proxy the peer is the proxy: the target was checked above
            ):
                self.policy.check_address(response.ip_address, urlsplit(response.url).hostname)
        except UnsafeURLError as error:
            raise IgnoreRequest(f"refused: the response came from {response.url}: {error}") from error
        return response


def _left_the_page(url: str) -> str:
    """A browser page that ended on Chromium's error page: it navigated somewhere it could not go."""
    guard = active_guard()
    if guard is not None and guard.refusals:
        where, reason = guard.refusals[-1]
        return f"refused: the page navigated to a non-public address ({where}: {reason})"
    return f"the page navigated away and ended on an error page ({url})"


class ConditionalRequestMiddleware:
    """Adds If-None-Match / If-Modified-Since for URLs fetched before (static rendering only: a browser
    would render a 304 as an empty page)."""

    def __init__(self, validators: dict[str, tuple[str | None, str | None]]) -> None:
        self.validators = validators

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        return cls(crawler.settings.get("HARVEST_VALIDATORS") or {})

    def process_request(self, request: Request, spider: Spider | None = None) -> None:
        if request.meta.get("playwright") or request.meta.get("harvest_unconditional"):
            return
        etag, last_modified = self.validators.get(request.url, (None, None))
        if etag and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = etag
        if last_modified and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = last_modified


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries (5xx, timeouts, connection errors), waiting 0.5 s, 1 s, 2 s … between tries."""

    base_delay_s = 0.5
    max_delay_s = 30.0

    async def _wait(self, result: Any) -> Any:
        if isinstance(result, Request):
            tries = int(result.meta.get("retry_times", 1))
            await asyncio.sleep(min(self.base_delay_s * 2 ** (tries - 1), self.max_delay_s))
        return result

    async def process_response(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        return await self._wait(super().process_response(request, response))  # type: ignore[no-any-return]

    async def process_exception(  # type: ignore[override]
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        return await self._wait(super().process_exception(request, exception))  # type: ignore[no-any-return]


class ConditionalAwareAutoThrottle(AutoThrottle):
    """Scrapy's AutoThrottle, except that a 304 counts as a normal reply.

    AutoThrottle never lowers the delay on a non-200 response (error pages are small and would fool it
    into speeding up). A 304 answers a conditional request as intended; without this, a recrawl that
    mostly gets 304s could only ever slow down."""

    def _adjust_delay(self, slot: Slot, latency: float, response: Response) -> None:
        if response.status == 304:
            response = response.replace(status=200)
        super()._adjust_delay(slot, latency, response)
