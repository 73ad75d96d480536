"""SSRF guard: the crawler fetches public http(s) addresses only, unless an address is allow-listed."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from functools import lru_cache
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeURLError(Exception):
    """The URL may not be fetched; the message says why."""


class AddressPolicy:
    """Decides whether a URL may be fetched, resolving its host once per process."""

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        self.allowed: list[IPNetwork] = [ipaddress.ip_network(a, strict=False) for a in allowed]

    def check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"}:
            raise UnsafeURLError(f"scheme {parts.scheme or '(none)'!r} refused: only http and https")
        host = parts.hostname
        if not host:
            raise UnsafeURLError("URL has no host")
        for address in _resolve(host):
            if _is_internal(address) and not any(address in network for network in self.allowed):
                raise UnsafeURLError(
                    f"{host} resolves to the non-public address {address}; allow it with "
                    "HARVEST_CRAWL_ALLOWED_HOSTS if this is intended"
                )


def _is_internal(address: IPAddress) -> bool:
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


@lru_cache(maxsize=4096)
def _resolve(host: str) -> tuple[IPAddress, ...]:
    try:
        return (ipaddress.ip_address(host),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except socket.gaierror as error:
        raise UnsafeURLError(f"cannot resolve {host}: {error.strerror}") from error
    return tuple(ipaddress.ip_address(info[4][0]) for info in infos)
