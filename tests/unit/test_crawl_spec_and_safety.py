from __future__ import annotations

import pytest

from harvest.crawl.safety import AddressPolicy, UnsafeURLError
from harvest.crawl.spec import parse_spec
from harvest.errors import InvalidInputError


def test_allowed_domains_default_to_the_start_hosts() -> None:
    spec = parse_spec({"name": "a", "start_urls": ["https://www.example.org/x", "http://blog.example.org"]})
    assert spec.allowed_domains == ["blog.example.org", "www.example.org"]


def test_render_rules_pick_the_mode_per_url() -> None:
    spec = parse_spec(
        {
            "name": "a",
            "start_urls": ["https://e.org/"],
            "render_rules": [{"pattern": "/app/", "render": "browser"}],
        }
    )
    assert spec.render_for("https://e.org/app/page") == "browser"
    assert spec.render_for("https://e.org/blog/") == "static"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "a", "start_urls": ["javascript:alert(1)"]}, "only http and https"),
        ({"name": "a", "start_urls": ["https://"]}, "no host"),
        ({"name": "a", "start_urls": ["https://e.org:99999/"]}, "start_urls"),
        (
            {"name": "a", "start_urls": ["https://e.org/"], "exclude": ["[a-"]},
            "not a valid regular expression",
        ),
        (
            {"name": "a", "start_urls": ["https://e.org/"], "allowed_domains": ["https://e.org"]},
            "not a domain",
        ),
        ({"name": "a", "start_urls": ["https://e.org/"], "max_pages": 0}, "max_pages"),
        ({"name": "a", "start_urls": ["https://e.org/"], "surprise": 1}, "surprise"),
    ],
)
def test_invalid_sources_name_the_field(data: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        parse_spec(data)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.1.2.3/",
        "http://192.168.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://localhost/",
    ],
)
def test_internal_addresses_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="non-public address"):
        AddressPolicy().check(url)


def test_allow_list_admits_exactly_what_it_names() -> None:
    policy = AddressPolicy(["127.0.0.1", "10.0.0.0/8"])
    policy.check("http://127.0.0.1:8080/")
    policy.check("http://10.20.30.40/")
    with pytest.raises(UnsafeURLError):
        policy.check("http://192.168.1.1/")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/", "gopher://x/"])
def test_other_schemes_are_refused(url: str) -> None:
    with pytest.raises(UnsafeURLError, match="only http and https"):
        AddressPolicy().check(url)


def test_public_address_passes() -> None:
    AddressPolicy().check("http://93.184.216.34/")
