"""The crawl process's DNS resolver: connections go only to addresses the SSRF policy checked.

Twisted asks the reactor's resolver for the address of every host name it connects to (literal
dotted-quad and IPv6 addresses skip it, and are checked as they are written by the middleware). This
resolver answers with the policy's checked addresses, so the address connected to is the one checked —
a DNS answer that changes between the check and the connection (rebinding) cannot send a request to an
internal address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit
from urllib.request import getproxies

from twisted.internet import threads
from twisted.internet.defer import Deferred
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer  # type: ignore[import-untyped]

from harvest.crawl.safety import AddressPolicy, UnresolvableHostError, UnsafeURLError, crawl_policy


class RefusedAddressError(DNSLookupError):
    """The host's addresses are not allowed by the SSRF policy."""


@implementer(IResolverSimple)
class PinnedResolver:
    def __init__(self, reactor: Any, policy: AddressPolicy) -> None:
        self.reactor = reactor
        self.policy = policy
        # An HTTP proxy the environment configures for Scrapy (http_proxy, https_proxy) is
        # infrastructure, not a crawl target: it may sit on a private address.
        self.proxy_hosts = {
            (urlsplit(url).hostname or "").lower() for url in getproxies().values() if "://" in url
        } - {""}

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> PinnedResolver:
        return cls(reactor, crawl_policy(tuple(crawler.settings.getlist("HARVEST_ALLOWED_ADDRESSES"))))

    def install_on_reactor(self) -> None:
        self.reactor.installResolver(self)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        return threads.deferToThreadPool(self.reactor, self.reactor.getThreadPool(), self.address_of, name)

    def address_of(self, name: str) -> str:
        """The IPv4 address to connect to (Twisted's TCP client connects to host names over IPv4)."""
        if name.lower() in self.proxy_hosts:
            return socket.gethostbyname(name)
        try:
            addresses = self.policy.check_host(name)
        except UnresolvableHostError as error:
            raise DNSLookupError(str(error)) from error
        except UnsafeURLError as error:
            raise RefusedAddressError(f"refused: {error}") from error
        for address in addresses:
            if isinstance(address, ipaddress.IPv4Address):
                return str(address)
        raise DNSLookupError(f"{name} has no IPv4 address")
