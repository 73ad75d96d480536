"""Crawler-trap limits (per source over the global defaults) and how a finished run is judged."""

from __future__ import annotations

from datetime import UTC, datetime

from harvest.crawl.limits import CrawlLimits, TrapGuard, describe, url_years
from harvest.crawl.runs import RunView, verdict
from harvest.crawl.spec import parse_spec
from tests.conftest import make_settings

YEAR = datetime.now(UTC).year


def guard(**overrides: int) -> TrapGuard:
    spec = parse_spec({"name": "s", "start_urls": ["https://e.org/"], **overrides})
    return TrapGuard(CrawlLimits.of(spec, make_settings()))


def test_defaults_come_from_settings_and_a_source_overrides_them() -> None:
    spec = parse_spec({"name": "s", "start_urls": ["https://e.org/"], "max_query_variants": 500})
    limits = CrawlLimits.of(spec, make_settings(crawl_max_depth=7))
    assert (limits.max_depth, limits.max_query_variants, limits.max_pages) == (7, 500, 10_000)
    assert (limits.max_url_length, limits.max_path_repeats, limits.max_years_ahead) == (2083, 2, 1)


def test_each_trap_is_named() -> None:
    traps = guard()
    assert traps.refusal("https://e.org/a", depth=21, scheduled=0) == "max_depth"
    assert traps.refusal("https://e.org/a", depth=1, scheduled=10_000) == "max_pages"
    assert traps.refusal("https://e.org/" + "x" * 2100, depth=1, scheduled=0) == "max_url_length"
    assert traps.refusal("https://e.org/a/b/a/b/a/b", depth=1, scheduled=0) == "max_path_repeats"
    assert traps.refusal("https://e.org/a/b/a/b", depth=1, scheduled=0) is None
    assert traps.refusal(f"https://e.org/events/{YEAR + 2}/01/", depth=1, scheduled=0) == "max_years_ahead"
    assert traps.refusal(f"https://e.org/cal?month={YEAR + 2}-03", depth=1, scheduled=0) == "max_years_ahead"
    assert traps.refusal(f"https://e.org/cal?year={YEAR + 5}", depth=1, scheduled=0) == "max_years_ahead"
    assert traps.refusal(f"https://e.org/events/{YEAR + 1}/12/", depth=1, scheduled=0) is None
    assert traps.refusal("https://e.org/archive/1998/05/", depth=1, scheduled=0) is None  # the past is fine
    assert traps.refusal("https://e.org/product/209912", depth=1, scheduled=0) is None  # an id, not a date


def test_query_variants_are_counted_per_path_in_any_parameter_order() -> None:
    traps = guard(max_query_variants=3)
    for n in range(3):
        assert traps.refusal(f"https://e.org/s?q={n}&sort=a", depth=1, scheduled=0) is None
    assert traps.refusal("https://e.org/s?sort=a&q=1", depth=1, scheduled=0) is None  # seen, reordered
    assert traps.refusal("https://e.org/s?q=9&sort=a", depth=1, scheduled=0) == "max_query_variants"
    assert traps.refusal("https://e.org/other?q=9", depth=1, scheduled=0) is None


def test_a_source_can_raise_a_limit() -> None:
    assert guard(max_depth=50).refusal("https://e.org/a", depth=21, scheduled=0) is None
    assert guard(max_path_repeats=5).refusal("https://e.org/a/b/a/b/a/b", depth=1, scheduled=0) is None
    assert guard(max_years_ahead=10).refusal(f"https://e.org/{YEAR + 5}-01", depth=1, scheduled=0) is None


def test_the_summary_counts_urls_never_followed_and_names_the_option() -> None:
    traps = guard()
    traps.refusal("https://e.org/deep", depth=21, scheduled=0)
    traps.refusal("https://e.org/deep", depth=22, scheduled=0)  # the same URL seen twice
    traps.refusal("https://e.org/later", depth=21, scheduled=0)  # reached later from a shallower page
    summary = traps.summary({"https://e.org/later"})
    assert summary == {"max_depth": {"count": 1, "limit": 20, "example": "https://e.org/deep"}}
    message = describe(summary)
    assert message is not None
    assert "1 link deeper than 20 links from a start URL" in message
    assert "--max-depth / HARVEST_CRAWL_MAX_DEPTH" in message


def test_years_in_urls() -> None:
    assert url_years("https://e.org/2031/05/17/post") == [2031]
    assert url_years("https://e.org/x?date=20310517") == [2031]
    assert url_years("https://e.org/report-2031.pdf") == []


def run(**counts: int) -> RunView:
    names = ("fetched", "new", "changed", "unchanged", "gone", "failed", "robots_skipped")
    return RunView(
        id=7,
        source="s",
        status="running",
        started_at=None,
        finished_at=None,
        counts={name: counts.get(name, 0) for name in names},
        message=None,
        errors=[("http://a/", "host not found: a"), ("http://b/", "refused: b")],
    )


def test_a_run_that_fetched_nothing_failed_and_says_why() -> None:
    status, message = verdict(run(failed=2))
    assert status == "failed"
    assert (
        message == "no page could be fetched (2 failed): http://a/: host not found: a; http://b/: refused: b"
    )
    assert verdict(run(fetched=1, gone=1))[0] == "failed"  # the start page is gone
    assert verdict(run(robots_skipped=1))[0] == "failed"


def test_a_run_with_some_failures_is_partial_and_points_at_the_details() -> None:
    status, message = verdict(run(fetched=10, new=10, failed=2))
    assert status == "partial" and message == "2 of 12 pages failed (reasons: `harvest runs show 7`)"
    assert verdict(run(fetched=3, unchanged=3, robots_skipped=4)) == ("succeeded", None)
