"""Turn ts_headline output into HTML that is safe to show: the text escaped, matches in <mark>."""

from __future__ import annotations

import html

# Private-use characters never occur in extracted text, so they can delimit matches unambiguously.
START, STOP = "\ue000", "\ue001"
HEADLINE_OPTIONS = (
    f'StartSel="{START}", StopSel="{STOP}", MaxWords=40, MinWords=18, ShortWord=2, '
    'MaxFragments=2, FragmentDelimiter=" … "'
)


def safe_snippet(headline: str) -> str:
    escaped = html.escape(headline.replace("\n", " "), quote=False)
    return escaped.replace(START, "<mark>").replace(STOP, "</mark>")
