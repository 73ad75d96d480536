"""When a known page is worth asking for again: the recrawl schedule.

Three signals, the ones large crawlers use:
- an adaptive revisit interval per page, learned from how often its content actually changed: it
  starts at HARVEST_CRAWL_REVISIT_MIN, doubles after a fetch that found the page unchanged (a 304 or
  the same content hash) and halves after one that found it changed, within [MIN, MAX];
- the server's own freshness (`Cache-Control: max-age`, else `Expires` minus `Date`): a page the server
  calls fresh is not asked for before it goes stale (never later than MAX);
- the sitemap's `<lastmod>`: newer than the page's last fetch makes it due now; not newer skips it,
  but a sitemap is trusted for at most MAX since the last fetch, so one that lies loses nothing for
  longer than that. `harvest crawl --full` asks for every page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RevisitPolicy:
    min_s: int
    max_s: int

    def next_interval(self, previous_s: int | None, *, changed: bool | None) -> int:
        """`changed`: True (new content), False (same content), None (first fetch of the page)."""
        if previous_s is None or changed is None:
            return self.min_s
        interval = previous_s // 2 if changed else max(previous_s, 1) * 2
        return min(max(interval, self.min_s), self.max_s)

    def next_due(self, fetched_at: datetime, interval_s: int, headers: dict[str, str]) -> datetime:
        fresh_s = freshness_s(headers, fetched_at)
        return fetched_at + timedelta(seconds=min(max(interval_s, fresh_s), self.max_s))


@dataclass(frozen=True)
class KnownPage:
    """What the schedule knows of a page fetched by a finished run."""

    last_fetched_at: datetime
    next_due_at: datetime


def is_due(page: KnownPage, now: datetime, max_s: int, lastmod: datetime | None = None) -> bool:
    if lastmod is not None:
        if lastmod > page.last_fetched_at:
            return True  # the sitemap says it changed since we saw it
        if now - page.last_fetched_at < timedelta(seconds=max_s):
            return False  # the sitemap says unchanged: trusted up to MAX after the last fetch
    return now >= page.next_due_at


_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.I)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\b", re.I)


def freshness_s(headers: dict[str, str], fetched_at: datetime) -> int:
    """Seconds the response says it stays fresh (0 when it says nothing, or must be revalidated).
    `headers`: lower-case names."""
    control = headers.get("cache-control", "")
    if _NO_CACHE.search(control):
        return 0
    match = _MAX_AGE.search(control)
    if match:
        age = _int(headers.get("age")) or 0
        return max(int(match.group(1)) - age, 0)
    expires = _http_date(headers.get("expires"))
    if expires is None:
        return 0
    date = _http_date(headers.get("date")) or fetched_at
    return max(int((expires - date).total_seconds()), 0)


def parse_lastmod(value: str | None) -> datetime | None:
    """A sitemap's W3C datetime (`2026-11-25`, `2026-11-25T10:00:00+01:00`, `…Z`), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if len(value) == 10:  # a day only: the change may be late that day, so count it from the day's end
        parsed += timedelta(days=1)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None  # "Expires: 0" and other invalid dates mean "already expired"
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
