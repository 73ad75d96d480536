"""Which IP addresses are not public: the IANA special-purpose address registries, IPv4 and IPv6.

An address is refused when the registry says it is not globally reachable (private, loopback,
link-local, shared/CGNAT, benchmarking, documentation, reserved, …) or it is multicast. IPv6 forms that
carry an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged by the IPv4 address inside them, so
`[::ffff:127.0.0.1]` or `[2002:7f00:1::]` are loopback. Host spellings that resolvers and browsers read
as IPv4 (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) are parsed here the way they do.

Sources: https://www.iana.org/assignments/iana-ipv4-special-registry and
https://www.iana.org/assignments/iana-ipv6-special-registry (entries marked "Globally Reachable: False",
plus deprecated and reserved blocks).
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetworkT = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# (network, registry name); the most specific match names the refusal.
IPV4_NOT_PUBLIC: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), '"this network"'),
    (_V4("10.0.0.0/8"), "private-use"),
    (_V4("100.64.0.0/10"), "shared address space (carrier-grade NAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private-use"),
    (_V4("192.0.0.0/24"), "IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "documentation (TEST-NET-1)"),
    (_V4("192.88.99.0/24"), "deprecated 6to4 relay anycast"),
    (_V4("192.168.0.0/16"), "private-use"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation (TEST-NET-2)"),
    (_V4("203.0.113.0/24"), "documentation (TEST-NET-3)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),
    (_V4("255.255.255.255/32"), "limited broadcast"),
)

# Only 2000::/3 is global unicast; everything outside it is loopback, unspecified, unique-local,
# link-local, multicast or reserved — except the two IPv4-carrying prefixes handled before this table.
IPV6_GLOBAL_UNICAST = _V6("2000::/3")
IPV6_NOT_PUBLIC: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::1/128"), "loopback"),
    (_V6("::/128"), "unspecified"),
    (_V6("::/8"), "reserved (IPv4-compatible and other deprecated forms)"),
    (_V6("64:ff9b:1::/48"), "local-use IPv4/IPv6 translation"),
    (_V6("100::/64"), "discard-only"),
    (_V6("100:0:0:1::/64"), "dummy prefix"),
    (_V6("2001::/23"), "IETF protocol assignments"),
    (_V6("2001::/32"), "Teredo"),
    (_V6("2001:2::/48"), "benchmarking"),
    (_V6("2001:10::/28"), "deprecated ORCHID"),
    (_V6("2001:20::/28"), "ORCHIDv2 (identifiers, not locators)"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("5f00::/16"), "segment routing (SRv6) SIDs"),
    (_V6("fc00::/7"), "unique-local"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "deprecated site-local"),
    (_V6("ff00::/8"), "multicast"),
)
# Globally reachable blocks inside a refused one (anycast services), per the registry.
IPV6_PUBLIC_EXCEPTIONS = (
    _V6("2001:1::1/128"),
    _V6("2001:1::2/128"),
    _V6("2001:1::3/128"),
    _V6("2001:3::/32"),
    _V6("2001:4:112::/48"),
    _V6("2001:30::/28"),
)
IPV4_MAPPED = _V6("::ffff:0:0/96")
NAT64_WELL_KNOWN = _V6("64:ff9b::/96")
SIX_TO_FOUR = _V6("2002::/16")


def embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 transition form carries, with the form's name; None for plain IPv6."""
    if address in IPV4_MAPPED:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "IPv4-mapped"
    if address in NAT64_WELL_KNOWN:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
    if address in SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF), "6to4"
    return None


def _most_specific(address: IPAddress, table: tuple[tuple[IPNetworkT, str], ...]) -> str | None:
    found: tuple[int, str] | None = None
    for network, name in table:
        if address in network and (found is None or network.prefixlen > found[0]):
            found = (network.prefixlen, name)
    return found[1] if found else None


def not_public_reason(address: IPAddress) -> str | None:
    """Why an address is not public (e.g. "loopback"), or None when it is globally reachable."""
    if isinstance(address, ipaddress.IPv4Address):
        return _most_specific(address, IPV4_NOT_PUBLIC)
    address = ipaddress.IPv6Address(int(address))  # drop a zone (%eth0): it does not change the block
    inner = embedded_ipv4(address)
    if inner is not None:
        v4, form = inner
        reason = not_public_reason(v4)
        return f"{reason} ({form} {v4})" if reason else None
    if any(address in network for network in IPV6_PUBLIC_EXCEPTIONS):
        return None
    reason = _most_specific(address, IPV6_NOT_PUBLIC)
    if reason is None and address not in IPV6_GLOBAL_UNICAST:
        reason = "reserved"
    return reason


def checked_forms(address: IPAddress) -> list[IPAddress]:
    """The address itself plus the IPv4 address it carries, if any: an allow-list entry for
    127.0.0.1 also admits ::ffff:127.0.0.1."""
    forms: list[IPAddress] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(ipaddress.IPv6Address(int(address)))
        if inner is not None:
            forms.append(inner[0])
    return forms


def parse_ip_host(host: str) -> IPAddress | None:
    """The address a URL host names literally, read as browsers and inet_aton do (WHATWG URL IPv4
    parser: 1 to 4 parts, each decimal, 0x-hex or 0-octal, the last filling the remaining bytes), or None
    for a domain name."""
    host = host.strip().rstrip(".") if not host.startswith("[") else host.strip("[]")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            return None
    parts = host.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _ipv4_number(part: str) -> int | None:
    if not part:
        return None
    text, base = part.lower(), 10
    if text.startswith("0x"):
        text, base = text[2:], 16
        if not text:
            return 0
    elif len(text) > 1 and text.startswith("0"):
        text, base = text[1:], 8
    digits = "0123456789abcdef"[:base]
    if not all(c in digits for c in text):
        return None
    return int(text, base)
