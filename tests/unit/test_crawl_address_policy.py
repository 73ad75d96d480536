"""The SSRF address policy: IANA special-purpose ranges, every spelling of an address, every address of
a host, and connections pinned to what was checked."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest
from twisted.internet.error import DNSLookupError

from harvest.crawl.addresses import not_public_reason, parse_ip_host
from harvest.crawl.resolver import PinnedResolver, RefusedAddressError
from harvest.crawl.safety import AddressPolicy, UnsafeURLError, url_warnings


@pytest.mark.parametrize(
    ("url", "why"),
    [
        # loopback, however it is written
        ("http://127.0.0.1/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://2130706433/", "loopback"),  # decimal
        ("http://0x7f000001/", "loopback"),  # hex
        ("http://0x7f.0.0.1/", "loopback"),
        ("http://0177.0.0.1/", "loopback"),  # octal
        ("http://017700000001/", "loopback"),
        ("http://127.000.000.001/", "loopback"),
        ("http://127.0.0.1./", "loopback"),  # trailing dot
        ("http://[::1]/", "loopback"),
        ("http://[0:0:0:0:0:0:0:1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "IPv4-mapped 127.0.0.1"),
        ("http://[::ffff:7f00:1]/", "IPv4-mapped 127.0.0.1"),
        ("http://[0:0:0:0:0:ffff:127.0.0.1]/", "IPv4-mapped"),
        ("http://[64:ff9b::127.0.0.1]/", "NAT64 127.0.0.1"),
        ("http://[2002:7f00:1::]/", "6to4 127.0.0.1"),
        ("http://localhost/", "loopback"),
        ("http://LOCALHOST./", "loopback"),
        # private, shared, link-local, metadata services
        ("http://10.1.2.3/", "private-use"),
        ("http://012.1.2.3/", "private-use"),  # 012 is octal for 10
        ("http://172.16.5.4/", "private-use"),
        ("http://192.168.0.1/", "private-use"),
        ("http://3232235521/", "private-use"),  # 192.168.0.1
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://100.100.100.200/", "carrier-grade NAT"),  # a cloud metadata address
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local (NAT64 169.254.169.254)"),
        ("http://[2002:a00:1::1]/", "private-use (6to4 10.0.0.1)"),
        ("http://[2002:c0a8:101::]/", "private-use (6to4 192.168.1.1)"),
        ("http://[fd00:ec2::254]/", "unique-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fe80::1%25eth0]/", "link-local"),
        # the rest of the special-purpose registries
        ("http://0.0.0.0/", '"this network"'),
        ("http://0/", '"this network"'),
        ("http://192.0.0.170/", "IETF protocol assignments"),
        ("http://192.0.2.10/", "documentation"),
        ("http://198.51.100.7/", "documentation"),
        ("http://203.0.113.9/", "documentation"),
        ("http://198.18.0.1/", "benchmarking"),
        ("http://192.88.99.1/", "6to4 relay"),
        ("http://224.0.0.251/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://[::]/", "unspecified"),
        ("http://[::7f00:1]/", "reserved"),  # deprecated IPv4-compatible
        ("http://[2001::1]/", "Teredo"),
        ("http://[2001:db8::1]/", "documentation"),
        ("http://[3fff::1]/", "documentation"),
        ("http://[2001:2::1]/", "benchmarking"),
        ("http://[100::1]/", "discard-only"),
        ("http://[64:ff9b:1::a00:1]/", "local-use IPv4/IPv6 translation"),
        ("http://[fec0::1]/", "site-local"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[4000::1]/", "reserved"),
    ],
)
def test_non_public_addresses_are_refused_in_every_spelling(url: str, why: str) -> None:
    with pytest.raises(UnsafeURLError, match="non-public address") as refused:
        AddressPolicy().check(url)
    assert why in str(refused.value)
    assert "HARVEST_CRAWL_ALLOWED_HOSTS" in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://93.184.216.34/",
        "https://8.8.8.8:443/x",
        "http://134744072/",  # 8.8.8.8 as one number
        "http://[2606:4700:4700::1111]/",
        "http://[::ffff:8.8.8.8]/",  # mapped public IPv4
        "http://[64:ff9b::808:808]/",  # NAT64 of 8.8.8.8
        "http://[2002:808:808::1]/",  # 6to4 of 8.8.8.8
        "http://192.31.196.1/",  # AS112: globally reachable inside a special block
        "http://[2001:4:112::1]/",
    ],
)
def test_public_addresses_pass(url: str) -> None:
    AddressPolicy().check(url)


def test_host_spellings_are_read_as_browsers_read_them() -> None:
    assert parse_ip_host("0x7f.1") == ipaddress.IPv4Address("127.0.0.1")
    assert parse_ip_host("10.0.258") == ipaddress.IPv4Address("10.0.1.2")  # last part fills two bytes
    assert parse_ip_host("010.0.0.1") == ipaddress.IPv4Address("8.0.0.1")  # octal, as inet_aton reads it
    assert parse_ip_host("[::1]") == ipaddress.IPv6Address("::1")
    for name in ("example.org", "1.2.3.4.5", "256.1.1.1", "08.1.1.1", "1.2.3.4x", ""):
        assert parse_ip_host(name) is None
    # and as the system resolver reads them (what a connection would use)
    for spelling in ("2130706433", "0x7f.1", "0177.0.0.1", "127.1"):
        assert socket.getaddrinfo(spelling, None)[0][4][0] == "127.0.0.1"
        assert parse_ip_host(spelling) == ipaddress.IPv4Address("127.0.0.1")


def test_allow_list_admits_exactly_what_it_names_in_any_spelling() -> None:
    policy = AddressPolicy(["127.0.0.1", "10.0.0.0/8"])
    for url in (
        "http://127.0.0.1:8080/",
        "http://2130706433/",
        "http://[::ffff:127.0.0.1]/",
        "http://10.2.3.4/",
    ):
        policy.check(url)
    for url in ("http://127.0.0.2/", "http://[::1]/", "http://192.168.1.1/", "http://100.64.0.1/"):
        with pytest.raises(UnsafeURLError):
            policy.check(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/", "gopher://x/", "javascript:1"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="only http and https"):
        AddressPolicy().check(url)


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[list[str]]]) -> list[str]:
    """Resolve names from `answers` (a list of answers per name, one per lookup, the last repeating);
    the real resolver here cannot return several addresses or change its answer."""
    asked: list[str] = []

    def getaddrinfo(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        asked.append(host)
        sequence = answers[host]
        addresses = sequence[min(asked.count(host), len(sequence)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_every_address_of_a_host_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dns(monkeypatch, {"mixed.example": [["93.184.216.34", "10.0.0.5"]]})
    with pytest.raises(UnsafeURLError, match=r"mixed.example resolves to the non-public address 10\.0\.0\.5"):
        AddressPolicy().check("http://mixed.example/")


def test_a_rebinding_answer_is_never_used_to_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first lookup says public, every later one says loopback: the crawl process checks once and
    connects to the checked address, never to what DNS says afterwards."""
    asked = fake_dns(monkeypatch, {"rebind.example": [["93.184.216.34"], ["127.0.0.1"]]})
    policy = AddressPolicy(cache=True)
    policy.check("http://rebind.example/")
    resolver = PinnedResolver(reactor=None, policy=policy)
    assert resolver.address_of("rebind.example") == "93.184.216.34"
    assert asked == ["rebind.example"]  # resolved once: the check and the connection share the answer
    # DNS now says loopback: a fresh check sees it (and refuses), the crawl's connections never do
    with pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1"):
        AddressPolicy().check("http://rebind.example/")
    assert resolver.address_of("rebind.example") == "93.184.216.34"


def test_the_resolver_refuses_what_the_policy_refuses() -> None:
    resolver = PinnedResolver(reactor=None, policy=AddressPolicy())
    with pytest.raises(RefusedAddressError, match="refused: localhost resolves to the non-public"):
        resolver.address_of("localhost")
    with pytest.raises(RefusedAddressError):
        resolver.address_of("0x7f.1")
    with pytest.raises(DNSLookupError, match="cannot resolve"):
        resolver.address_of("no-such-host.invalid")
    assert PinnedResolver(None, AddressPolicy(["127.0.0.1"])).address_of("localhost") == "127.0.0.1"


def test_url_warnings_name_refused_and_unresolvable_urls() -> None:
    warnings = url_warnings(
        ["http://127.0.0.1:9/", "http://no-such-host.invalid/", "http://93.184.216.34/"], allowed=[]
    )
    assert len(warnings) == 2
    assert "http://127.0.0.1:9/" in warnings[0] and "loopback" in warnings[0]
    assert "cannot resolve no-such-host.invalid" in warnings[1]


def test_reasons_come_from_the_registries() -> None:
    assert not_public_reason(ipaddress.ip_address("100.127.255.255")) is not None
    assert not_public_reason(ipaddress.ip_address("100.128.0.0")) is None
    assert not_public_reason(ipaddress.ip_address("192.0.0.9")) is not None
    assert not_public_reason(ipaddress.ip_address("198.20.0.1")) is None
