"""A page's publication date, and where it came from: the page's metadata, its structured data, or its
URL — never a date-like string in the text (a version number such as "3.2.25" or a date the article
talks about is not when it was published)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from lxml import html

# <meta> names and properties that state publication, most specific first
META_NAMES = (
    "article:published_time",
    "og:published_time",
    "datepublished",
    "citation_publication_date",
    "citation_date",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date.created",
    "dcterms.created",
    "dc.date",
    "dcterms.date",
    "date",
    "pubdate",
    "publishdate",
    "publish-date",
    "publish_date",
    "parsely-pub-date",
    "sailthru.date",
)
_URL_DATE = re.compile(r"/((?:19|20)\d{2})[/_-](0?[1-9]|1[0-2])[/_-](0?[1-9]|[12]\d|3[01])(?:[/_.-]|$)")
_ISO_START = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")
EARLIEST = date(1990, 1, 1)


@dataclass(frozen=True)
class FoundDate:
    value: datetime
    source: str  # "metadata:<name>", "json-ld", "microdata" or "url"


def publication_date(
    tree: html.HtmlElement | None, url: str, *, today: date | None = None
) -> FoundDate | None:
    """The first publication date found in <meta>, JSON-LD, microdata, then the URL."""
    latest = today or datetime.now(UTC).date()
    candidates: list[tuple[str, str]] = []
    if tree is not None:
        candidates += _meta_dates(tree)
        candidates += [("json-ld", value) for value in _json_ld_dates(tree)]
        candidates += [("microdata", value) for value in _microdata_dates(tree)]
    for source, raw in candidates:
        parsed = parse_date(raw)
        if parsed is not None and EARLIEST <= parsed.date() <= latest:
            return FoundDate(parsed, source)
    match = _URL_DATE.search(url)
    if match:
        try:
            found = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return None
        if EARLIEST <= found <= latest:
            return FoundDate(datetime(found.year, found.month, found.day, tzinfo=UTC), "url")
    return None


def parse_date(raw: str) -> datetime | None:
    """ISO 8601 dates and timestamps (what metadata and structured data use); UTC when no zone."""
    raw = raw.strip()
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        match = _ISO_START.match(raw)
        if not match:
            return None
        try:
            value = datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        except ValueError:
            return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _meta_dates(tree: html.HtmlElement) -> list[tuple[str, str]]:
    found: dict[str, str] = {}
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()
        content = meta.get("content")
        if key in META_NAMES and content and key not in found:
            found[key] = content
    return [(f"metadata:{key}", found[key]) for key in META_NAMES if key in found]


def _json_ld_dates(tree: html.HtmlElement) -> list[str]:
    values: list[str] = []
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except ValueError:
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                for key in ("datePublished", "dateCreated"):
                    if isinstance(item.get(key), str):
                        values.append(item[key])
                stack.extend(v for k, v in item.items() if k == "@graph" or isinstance(v, list | dict))
    return values


def _microdata_dates(tree: html.HtmlElement) -> list[str]:
    values = []
    for element in tree.xpath("//*[@itemprop='datePublished']"):
        value = element.get("datetime") or element.get("content")
        if value:
            values.append(value)
    return values
