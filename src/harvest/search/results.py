"""What a search answers: hits (one per document) and how the search ran. Plain data, cheap to import
(the CLI prints results it got from a running API without loading the engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SearchHit:
    document_id: int
    chunk_id: str
    score: float
    title: str | None
    url: str
    source: str
    language: str | None
    heading: str | None
    snippet: str  # HTML: text escaped, matched words in <mark>
    published_at: datetime | None
    fetched_at: datetime | None
    ranks: dict[str, int] = field(default_factory=dict)  # rank in each candidate list (1 = best)


@dataclass(frozen=True)
class SearchResults:
    query: str | None
    mode: str
    model: str | None
    hits: list[SearchHit]
    limit: int
    offset: int
    next_offset: int | None
    took_ms: float
    warnings: list[str] = field(default_factory=list)
