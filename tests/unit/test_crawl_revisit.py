"""The recrawl schedule's rules: interval learning, server freshness, sitemap lastmod."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from harvest.crawl.revisit import KnownPage, RevisitPolicy, freshness_s, is_due, parse_lastmod

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
POLICY = RevisitPolicy(min_s=3600, max_s=8 * 3600)


def test_the_interval_doubles_when_unchanged_halves_when_changed_within_bounds() -> None:
    assert POLICY.next_interval(None, changed=None) == 3600  # a new page starts at MIN
    assert POLICY.next_interval(3600, changed=False) == 7200
    assert POLICY.next_interval(6 * 3600, changed=False) == 8 * 3600  # capped at MAX
    assert POLICY.next_interval(4 * 3600, changed=True) == 2 * 3600
    assert POLICY.next_interval(3600, changed=True) == 3600  # never below MIN
    assert RevisitPolicy(0, 0).next_interval(3600, changed=False) == 0  # 0/0: always due


def test_server_freshness_pushes_the_due_time_but_never_past_max() -> None:
    assert freshness_s({"cache-control": "public, max-age=600"}, NOW) == 600
    assert freshness_s({"cache-control": "max-age=600", "age": "100"}, NOW) == 500
    assert freshness_s({"cache-control": "no-cache, max-age=600"}, NOW) == 0
    expires = {"expires": "Wed, 25 Nov 2026 14:00:00 GMT", "date": "Wed, 25 Nov 2026 12:00:00 GMT"}
    assert freshness_s(expires, NOW) == 7200
    assert freshness_s({"expires": "0"}, NOW) == 0  # invalid: already expired
    assert freshness_s({}, NOW) == 0
    assert POLICY.next_due(NOW, 3600, {"cache-control": "max-age=7200"}) == NOW + timedelta(hours=2)
    assert POLICY.next_due(NOW, 3600, {"cache-control": "max-age=31536000"}) == NOW + timedelta(hours=8)
    assert POLICY.next_due(NOW, 3600, {"cache-control": "max-age=60"}) == NOW + timedelta(hours=1)


def test_sitemap_lastmod_decides_and_is_trusted_for_at_most_max() -> None:
    page = KnownPage(last_fetched_at=NOW - timedelta(hours=2), next_due_at=NOW - timedelta(minutes=1))
    assert is_due(page, NOW, 8 * 3600)  # the interval is up
    assert not is_due(page, NOW, 8 * 3600, lastmod=NOW - timedelta(days=3))  # sitemap: unchanged
    fresh = KnownPage(last_fetched_at=NOW - timedelta(hours=2), next_due_at=NOW + timedelta(hours=5))
    assert not is_due(fresh, NOW, 8 * 3600)
    assert is_due(fresh, NOW, 8 * 3600, lastmod=NOW - timedelta(hours=1))  # sitemap: changed since
    old = KnownPage(last_fetched_at=NOW - timedelta(hours=9), next_due_at=NOW - timedelta(hours=1))
    assert is_due(old, NOW, 8 * 3600, lastmod=NOW - timedelta(days=3))  # a lie costs at most MAX


def test_lastmod_formats() -> None:
    assert parse_lastmod("2026-11-25T10:00:00+01:00") == datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    assert parse_lastmod("2026-11-25T10:00:00Z") == datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    # a day only: counted from the end of the day, so a change later that day is not missed
    assert parse_lastmod("2026-11-25") == datetime(2026, 11, 26, tzinfo=UTC)
    assert parse_lastmod("yesterday") is None and parse_lastmod(None) is None
