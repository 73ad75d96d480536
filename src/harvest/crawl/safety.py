"""SSRF guard: the crawler fetches public http(s) addresses only, unless an address is allow-listed.

One policy for every request: Scrapy's (checked before sending, pinned at connection by
`harvest.crawl.resolver`, and the peer address of each response checked again) and everything Chromium
does for browser sources (`harvest.crawl.browser_guard`). A host is refused when any of its addresses is
refused, so a name that resolves to one public and one private address cannot be used to reach the
private one.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

from harvest.crawl.addresses import IPAddress, checked_forms, not_public_reason, parse_ip_host

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
FETCHED_SCHEMES = frozenset({"http", "https"})


class UnsafeURLError(Exception):
    """The URL may not be fetched; the message says why."""


class UnresolvableHostError(UnsafeURLError):
    """The host has no address (from here, now): not a refusal, the fetch would fail."""


class AddressPolicy:
    """Decides whether a URL, host or address may be fetched.

    With `cache=True` (the crawl process) each host is resolved once and the checked addresses are
    what every later check and every connection uses: a DNS answer that changes during the crawl
    (rebinding) is never seen. Without it (interfaces warning about a URL) each check resolves anew."""

    def __init__(self, allowed: Iterable[str] = (), *, cache: bool = False) -> None:
        self.allowed: list[IPNetwork] = [ipaddress.ip_network(a, strict=False) for a in allowed]
        self._cache: dict[str, tuple[IPAddress, ...]] | None = {} if cache else None
        self._lock = threading.Lock()

    def check(self, url: str, *, schemes: frozenset[str] = FETCHED_SCHEMES) -> tuple[IPAddress, ...]:
        """The URL's checked addresses, or UnsafeURLError."""
        parts = urlsplit(url.strip())
        if parts.scheme.lower() not in schemes:
            raise UnsafeURLError(f"scheme {parts.scheme or '(none)'!r} refused: only http and https")
        try:
            host = parts.hostname
        except ValueError as error:
            raise UnsafeURLError(f"invalid host in {url!r}: {error}") from error
        if not host:
            raise UnsafeURLError("URL has no host")
        return self.check_host(host)

    def check_host(self, host: str) -> tuple[IPAddress, ...]:
        """Every address of a host (a name or a literal in any spelling) checked, or UnsafeURLError."""
        literal = parse_ip_host(host)
        addresses = (literal,) if literal is not None else self.resolve(host)
        for address in addresses:
            self.check_address(address, host)
        return addresses

    def check_address(self, address: IPAddress, host: str | None = None) -> None:
        reason = not_public_reason(address)
        if reason is None or self.is_allowed(address):
            return
        named = f"{host} resolves to " if host and host.strip("[]") != str(address) else ""
        raise UnsafeURLError(
            f"{named}the non-public address {address} ({reason}); allow it with "
            "HARVEST_CRAWL_ALLOWED_HOSTS if this is intended"
        )

    def is_allowed(self, address: IPAddress) -> bool:
        return any(
            form in network
            for form in checked_forms(address)
            for network in self.allowed
            if form.version == network.version
        )

    def resolve(self, host: str) -> tuple[IPAddress, ...]:
        key = host.lower().rstrip(".")
        if self._cache is not None and key in self._cache:
            return self._cache[key]
        addresses = _lookup(key)
        if self._cache is not None:
            with self._lock:  # the first answer wins; a later, different one is never used
                addresses = self._cache.setdefault(key, addresses)
        return addresses


def _lookup(host: str) -> tuple[IPAddress, ...]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise UnresolvableHostError(f"cannot resolve {host}: {error.strerror}") from error
    except (UnicodeError, ValueError) as error:
        raise UnresolvableHostError(f"cannot resolve {host}: not a valid host name") from error
    addresses: dict[IPAddress, None] = {}
    for info in infos:
        addresses[ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])] = None
    if not addresses:
        raise UnresolvableHostError(f"cannot resolve {host}: no address")
    return tuple(addresses)


@lru_cache(maxsize=8)
def crawl_policy(allowed: tuple[str, ...]) -> AddressPolicy:
    """The crawl process's one policy (shared by the middleware, the resolver and the browser guard,
    so all of them see the same checked addresses for a host)."""
    return AddressPolicy(allowed, cache=True)


def url_warnings(urls: Iterable[str], allowed: Iterable[str]) -> list[str]:
    """One line per URL the crawler will refuse or cannot resolve from here (for `source add`, edit,
    apply and the API): resolved now, so the user hears it before the first crawl fails."""
    policy = AddressPolicy(allowed)
    warnings = []
    for url in urls:
        try:
            policy.check(url)
        except UnsafeURLError as error:
            warnings.append(f"the crawler will not fetch {url}: {error}")
    return warnings
