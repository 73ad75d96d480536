"""Main text and metadata from one raw page: trafilatura, a fallback, and per-source field rules."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import py3langid
import trafilatura
from lxml import html as lxml_html
from parsel import Selector
from trafilatura import metadata as trafilatura_metadata

from harvest.process.dates import publication_date
from harvest.process.decoding import decode_html
from harvest.process.structure import structured_text

logger = logging.getLogger(__name__)

HTML_TYPES = {"text/html", "application/xhtml+xml", "application/xml", "text/xml"}
TEXT_TYPES = {"text/plain"}
MIN_TEXT_CHARS = 25
MIN_SENTENCE_WORDS = 7
MIN_WORDS_WITHOUT_PROSE = 60
MAX_LINK_SHARE = 0.5  # above: the page's text is mostly links
MIN_ANCHOR_CHARS = 12  # shorter link texts ("Home", "More") also occur inside prose
MAX_LINK_SCAN_CHARS = 500_000


@dataclass(frozen=True)
class Extraction:
    text: str
    title: str | None = None
    author: str | None = None
    description: str | None = None
    published_at: datetime | None = None
    language: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    reason: str


def mime_type(content_type: str | None) -> str | None:
    return content_type.split(";", 1)[0].strip().lower() if content_type else None


def declared_charset(content_type: str | None) -> str | None:
    match = re.search(r"charset=([\w.:-]+)", content_type or "", re.I)
    return match.group(1) if match else None


def decode(body: bytes, content_type: str | None) -> tuple[str, bool]:
    """Text of a body (BOM, header charset, <meta> declaration, UTF-8, detection: see
    harvest.process.decoding); True when undecodable bytes became U+FFFD."""
    text, _, replaced = decode_html(body, content_type)
    return text, replaced


def extract_page(
    body: bytes,
    *,
    url: str,
    content_type: str | None,
    field_rules: dict[str, dict[str, str]] | None = None,
    max_chars: int = 1_000_000,
) -> Extraction | Skipped:
    """Extract one page; never raises for bad input — what cannot be used comes back as Skipped."""
    mime = mime_type(content_type)
    if not body.strip():
        return Skipped("empty page")
    if mime is not None and mime not in HTML_TYPES | TEXT_TYPES:
        return Skipped(f"content type {mime} is not HTML")
    if mime is None and b"\x00" in body[:1024]:
        return Skipped("binary content without a content type")
    html, replaced = decode(body, content_type)
    meta: dict[str, Any] = {"undecodable_bytes": True} if replaced else {}
    if mime in TEXT_TYPES:
        return _finish(Extraction(text=html.strip(), meta=meta | {"extractor": "plain"}), max_chars)

    tree = trafilatura.load_html(html)
    metadata = page_metadata(tree)
    found_date = publication_date(tree, url)
    text, extractor = (structured_text(tree), "structure") if tree is not None else (None, "")
    if not text:
        document = trafilatura.bare_extraction(
            html,
            url=url,
            with_metadata=False,
            include_formatting=True,
            include_comments=False,
            include_tables=True,
        )
        if isinstance(document, dict):  # only with as_dict=True; keeps the types honest
            document = None
        text = (document.text or "").strip() if document is not None else ""
        extractor = "trafilatura"
    if len(text) < MIN_TEXT_CHARS:
        # No main content found (short pages, app shells): take the page's visible text.
        _, fallback, _ = trafilatura.baseline(html)
        if len(fallback.strip()) > len(text):
            text, extractor = fallback.strip(), "baseline"
    if not text:
        return Skipped("no text content (markup only)")
    if not has_prose(text):
        return Skipped("no main text: navigation or boilerplate only")
    if link_share(text, html) > MAX_LINK_SHARE:
        return Skipped("a list of links (an index or navigation page), not a document")
    if found_date is not None:
        meta["date_source"] = found_date.source
    result = Extraction(
        text=text,
        title=_title_from_heading(metadata.title, text) if extractor == "structure" else metadata.title,
        author=metadata.author,
        description=metadata.description,
        published_at=found_date.value if found_date else None,
        language=metadata.language or declared_language(html),
        fields=select_fields(html, field_rules) if field_rules else {},
        meta=meta | {"extractor": extractor},
    )
    return _finish(result, max_chars)


_ANCHOR = re.compile(r"<a\b[^>]*>(.*?)</a\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")


def link_share(text: str, html: str) -> float:
    """The share of the extracted text's characters that are link texts of the page: close to 1 for
    home, section and tag pages (titles linking elsewhere), low for articles."""
    anchors = {
        " ".join(_TAG.sub(" ", match).split()) for match in _ANCHOR.findall(html[:MAX_LINK_SCAN_CHARS])
    }
    anchors = {a for a in anchors if len(a) >= MIN_ANCHOR_CHARS}
    if not anchors:
        return 0.0
    total = linked = 0
    for line in text.splitlines():
        words = " ".join(line.split())
        if not words:
            continue
        total += len(words)
        linked += min(len(words), sum(len(a) for a in anchors if a in words))
    return linked / total if total else 0.0


def has_prose(text: str) -> bool:
    """True when some line reads like a sentence, or there is a fair amount of text at all.

    Both extractors fall back to whatever text a page has; a page that is only menus, link lists and a
    footer yields short fragments, which are not a document worth chunking and embedding."""
    return word_count(text) >= MIN_WORDS_WITHOUT_PROSE or any(
        word_count(line) >= MIN_SENTENCE_WORDS for line in text.splitlines()
    )


# Chinese and Japanese write words without spaces: about two characters make a word.
_UNSPACED_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def word_count(text: str) -> int:
    return len(text.split()) + len(_UNSPACED_SCRIPT.findall(text)) // 2


def _finish(result: Extraction, max_chars: int) -> Extraction:
    text, meta = result.text, dict(result.meta)
    if len(text) > max_chars:
        cut = text.rfind("\n\n", 0, max_chars)
        text = text[: cut if cut > max_chars // 2 else max_chars]
        meta |= {"truncated": True, "original_chars": len(result.text)}
    language = result.language or detect_language(text)
    return Extraction(
        text=text,
        title=result.title,
        author=result.author,
        description=result.description,
        published_at=result.published_at,
        language=language,
        fields=result.fields,
        meta=meta,
    )


_HTML_LANG = re.compile(r"<html[^>]*?\slang\s*=\s*[\"']?([A-Za-z]{2,3})\b", re.I)


def declared_language(html: str) -> str | None:
    """The page's own `<html lang>` (its primary subtag), which costs nothing to read."""
    match = _HTML_LANG.search(html[:4096])
    return match.group(1).lower() if match else None


def detect_language(text: str) -> str | None:
    sample = text[:3000]
    if len(sample) < MIN_TEXT_CHARS:
        return None
    language, _score = py3langid.classify(sample)
    return str(language)


def select_fields(html: str, rules: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Per-source structured fields: {"price": {"css": ".price::text"}, "sku": {"xpath": "//…"}}."""
    selector = Selector(text=html)
    values: dict[str, Any] = {}
    for name, rule in rules.items():
        found = selector.css(rule["css"]) if "css" in rule else selector.xpath(rule["xpath"])
        texts = [t.strip() for t in found.getall() if t and t.strip()]
        values[name] = texts[0] if len(texts) == 1 else (texts or None)
    return values


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value or None


@dataclass(frozen=True)
class PageMetadata:
    title: str | None = None
    author: str | None = None
    description: str | None = None
    language: str | None = None


def page_metadata(tree: lxml_html.HtmlElement | None) -> PageMetadata:
    """Title, author, description and language from <meta>, JSON-LD and the title/h1 (trafilatura's
    rules). The publication date is not taken from here: trafilatura's date search reads the text."""
    if tree is None:
        return PageMetadata()
    found = trafilatura_metadata.examine_meta(tree)
    try:
        found = trafilatura_metadata.extract_meta_json(tree, found)
    except Exception:  # trafilatura's JSON-LD reader fails on some malformed blocks: keep <meta>
        logger.debug("unreadable JSON-LD metadata", exc_info=True)
    title = found.title or _title_element(tree) or trafilatura_metadata.extract_title(tree)
    author = found.author if found.author and " " in found.author else None
    author = author or trafilatura_metadata.extract_author(tree)
    language = _clean(getattr(found, "language", None))
    return PageMetadata(_clean_title(title), _clean(author), _clean(found.description), language)


_STRONG_SEPARATORS = re.compile(r"\s+[|\u00b7\u00bb]\s+|\s+::\s+")
_DASH_SEPARATORS = re.compile(r"\s+[-\u2013\u2014]\s+")


def _title_element(tree: lxml_html.HtmlElement) -> str | None:
    """The page's <title> without the site name that follows it ("Page | Docs | Site" → "Page")."""
    element = tree.find(".//title")
    if element is None:
        return None
    text = " ".join(element.text_content().split())
    parts = _STRONG_SEPARATORS.split(text)
    if len(parts) == 1:
        # "Page - Site": a dash separates a site name only when what follows is the shorter part
        dashed = _DASH_SEPARATORS.split(text)
        if len(dashed) == 2 and len(dashed[1]) < len(dashed[0]):
            parts = dashed
    return parts[0].strip() or text or None


def _title_from_heading(title: str | None, text: str) -> str | None:
    """The content's first heading when the title starts with it (the page's own name, without the
    site's): "csv — CSV File Reading" for "csv — CSV File Reading - Python 3 docs"."""
    match = re.match(r"#{1,6} (.+)", text)
    if match and title and title.casefold().startswith(match.group(1).strip().casefold()):
        return match.group(1).strip()
    return title


def _clean_title(value: object) -> str | None:
    title = _clean(value)
    return title.rstrip("¶§ ").strip() or None if title else None
