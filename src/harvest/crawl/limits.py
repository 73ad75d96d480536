"""Crawler-trap limits: which discovered links are not followed, and a record of why.

Endless URL spaces (calendars with a "next month" link, paths that repeat themselves, faceted search
with a new query string per click, session ids) never run out of new URLs. Each limit has a default
(`HARVEST_CRAWL_*`) that a source can raise (or lower) with its own field. Start URLs are always
fetched; the limits apply to everything found from them.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from harvest.crawl.spec import SourceSpec
from harvest.settings import Settings

# kind -> (what was not followed, the source option / setting that raises the limit)
LIMIT_KINDS: dict[str, tuple[str, str]] = {
    "max_depth": ("deeper than {limit} links from a start URL", "--max-depth / HARVEST_CRAWL_MAX_DEPTH"),
    "max_pages": ("beyond the limit of {limit} pages", "--max-pages / HARVEST_CRAWL_MAX_PAGES"),
    "max_url_length": (
        "URLs longer than {limit} characters",
        "--max-url-length / HARVEST_CRAWL_MAX_URL_LENGTH",
    ),
    "max_path_repeats": (
        "a path segment repeated more than {limit} times (a loop)",
        "--max-path-repeats / HARVEST_CRAWL_MAX_PATH_REPEATS",
    ),
    "max_query_variants": (
        "more than {limit} query strings on one path",
        "--max-query-variants / HARVEST_CRAWL_MAX_QUERY_VARIANTS",
    ),
    "max_years_ahead": (
        "calendar pages dated more than {limit} year(s) ahead",
        "--max-years-ahead / HARVEST_CRAWL_MAX_YEARS_AHEAD",
    ),
}

# A year followed by a month (2031-05, 2031/05/17, 2031_5) or a compact date (20310517) ...
_YEAR_MONTH = re.compile(r"(?<![0-9])((?:19|20|21)[0-9]{2})[-/_.](0?[1-9]|1[0-2])(?![0-9])")
_COMPACT_DATE = re.compile(
    r"(?<![0-9])((?:19|20|21)[0-9]{2})(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])(?![0-9])"
)
# ... or a date-like query parameter holding a year or a compact date (year=2031, date=20310517).
_DATE_KEYS = frozenset(
    {"year", "yr", "y", "month", "mon", "ym", "date", "day", "week", "from", "start", "cal", "calendar"}
)
_YEAR_ONLY = re.compile(r"((?:19|20|21)[0-9]{2})")
# URLs remembered per limit (to count distinct ones); past this, further ones are only counted.
MAX_REMEMBERED = 100_000
MAX_EXAMPLE_CHARS = 160  # of an example URL in a run's message (the full one is in the run's limits)


@dataclass(frozen=True)
class CrawlLimits:
    max_depth: int
    max_pages: int
    max_url_length: int
    max_path_repeats: int
    max_query_variants: int
    max_years_ahead: int

    @classmethod
    def of(cls, spec: SourceSpec, settings: Settings) -> CrawlLimits:
        """The source's own limits where it sets them, else the global defaults."""

        def pick(name: str) -> int:
            own = getattr(spec, name)
            return int(own if own is not None else getattr(settings, f"crawl_{name}"))

        return cls(**{name: pick(name) for name in LIMIT_KINDS})


def url_years(url: str) -> list[int]:
    """The years of the dates a URL carries in its path or date-like query parameters."""
    parts = urlsplit(url)
    years = [int(m.group(1)) for m in _YEAR_MONTH.finditer(parts.path)]
    years += [int(m.group(1)) for m in _COMPACT_DATE.finditer(parts.path)]
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        years += [int(m.group(1)) for m in _YEAR_MONTH.finditer(value)]
        if key.lower() in _DATE_KEYS:
            years += [int(m.group(1)) for m in _COMPACT_DATE.finditer(value)]
            if match := _YEAR_ONLY.fullmatch(value.strip()):
                years.append(int(match.group(1)))
    return years


def most_repeated_segment(path: str) -> int:
    counts = Counter(segment for segment in path.split("/") if segment)
    return max(counts.values(), default=0)


@dataclass
class TrapGuard:
    """Decides, link by link, whether a discovered URL is followed; remembers what it turned away."""

    limits: CrawlLimits
    this_year: int = field(default_factory=lambda: datetime.now(UTC).year)
    query_variants: dict[str, set[str]] = field(default_factory=dict)
    turned_away: dict[str, set[str]] = field(default_factory=dict)
    uncounted: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def refusal(self, url: str, *, depth: int, scheduled: int) -> str | None:
        """The limit that stops `url` (a key of LIMIT_KINDS), or None when it may be followed. A URL
        that passes is counted against its path's query-string budget."""
        limits = self.limits
        kind: str | None = None
        parts = urlsplit(url)
        if depth > limits.max_depth:
            kind = "max_depth"
        elif scheduled >= limits.max_pages:
            kind = "max_pages"
        elif len(url) > limits.max_url_length:
            kind = "max_url_length"
        elif most_repeated_segment(parts.path) > limits.max_path_repeats:
            kind = "max_path_repeats"
        elif any(year > self.this_year + limits.max_years_ahead for year in url_years(url)):
            kind = "max_years_ahead"
        elif parts.query:
            path_key = f"{parts.scheme}://{parts.netloc}{parts.path}"
            query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
            seen = self.query_variants.setdefault(path_key, set())
            if query not in seen and len(seen) >= limits.max_query_variants:
                kind = "max_query_variants"
            else:
                seen.add(query)
        if kind is not None:
            remembered = self.turned_away.setdefault(kind, set())
            if len(remembered) < MAX_REMEMBERED:
                remembered.add(url)
            elif url not in remembered:
                self.uncounted[kind] += 1
            self.examples.setdefault(kind, url)
        return kind

    def summary(self, fetched_urls: set[str]) -> dict[str, dict[str, Any]]:
        """{kind: {"count", "limit", "example"}} of URLs never followed (a URL turned away when first
        seen deep but fetched later from a shallower page does not count)."""
        result: dict[str, dict[str, Any]] = {}
        for kind, urls in self.turned_away.items():
            missed = urls - fetched_urls
            if missed:
                example = self.examples[kind] if self.examples[kind] in missed else min(missed)
                limit = getattr(self.limits, kind)
                count = len(missed) + self.uncounted[kind]
                result[kind] = {"count": count, "limit": limit, "example": example}
        return result


def describe(summary: dict[str, dict[str, Any]]) -> str | None:
    """One sentence naming each limit that stopped links, with the option that raises it."""
    parts = []
    for kind, entry in summary.items():
        what, option = LIMIT_KINDS[kind]
        count, example = entry["count"], str(entry["example"])
        if len(example) > MAX_EXAMPLE_CHARS:
            example = example[: MAX_EXAMPLE_CHARS - 1] + "…"
        parts.append(
            f"{count} link{'s' if count != 1 else ''} {what.format(limit=entry['limit'])} "
            f"(e.g. {example}; raise with {option})"
        )
    return "not followed: " + "; ".join(parts) if parts else None
