"""From chunk candidates to ranked documents: a page's evidence, fusion, and pages that do not depend on
the page size.

A document scores its best chunk plus a damped share of its next best ones (a page that answers in
several places beats one with a single matching sentence, without long pages winning by length). Hybrid
search fuses the two document lists by reciprocal rank, ties broken by the lists' own scores.

Candidate lists are read in fixed tiers of documents (the first 50, then up to 200, then up to 1,000);
a tier only appends documents after the ones earlier tiers placed. Any page of results is therefore a
slice of the same ranking, whatever `limit` and `offset` are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

TIERS = (50, 200, 1000)


@dataclass(frozen=True)
class ChunkScore:
    chunk_id: str
    document_id: int
    score: float


@dataclass(frozen=True)
class DocumentScore:
    document_id: int
    score: float
    chunk_id: str  # the best chunk: the snippet's
    ranks: dict[str, int] = field(default_factory=dict)  # rank in each list (1 = best)


@dataclass(frozen=True)
class Evidence:
    """How a page's further chunks add to its best one: weight * (2nd + decay * 3rd + decay^2 * 4th ...)."""

    weight: float = 0.3
    decay: float = 0.5
    chunks: int = 4  # chunks of a page that count at most


def documents(chunks: Sequence[ChunkScore], evidence: Evidence) -> list[DocumentScore]:
    """Chunks (any order) grouped into documents, best first; ties go to the smaller document id.
    search.keyword does the same in SQL for keyword candidates: change both together."""
    by_document: dict[int, list[ChunkScore]] = {}
    for chunk in chunks:
        by_document.setdefault(chunk.document_id, []).append(chunk)
    scored = []
    for document_id, found in by_document.items():
        found.sort(key=lambda c: (-c.score, c.chunk_id))
        extra, factor = 0.0, 1.0
        for chunk in found[1 : evidence.chunks]:
            extra += factor * max(chunk.score, 0.0)
            factor *= evidence.decay
        scored.append(DocumentScore(document_id, found[0].score + evidence.weight * extra, found[0].chunk_id))
    scored.sort(key=lambda d: (-d.score, d.document_id))
    return scored


def fuse(
    lists: Mapping[str, Sequence[DocumentScore]], weights: Mapping[str, float], k: int
) -> list[DocumentScore]:
    """Weighted reciprocal rank fusion; equal fused scores are ordered by the sum of each list's score
    relative to that list's best, then by document id — never by which list came first."""
    fused: dict[int, float] = {}
    relative: dict[int, float] = {}
    ranks: dict[int, dict[str, int]] = {}
    snippet: dict[int, str] = {}
    for name, ranked in lists.items():
        top = max((abs(d.score) for d in ranked), default=0.0) or 1.0
        for position, document in enumerate(ranked, start=1):
            doc = document.document_id
            fused[doc] = fused.get(doc, 0.0) + weights.get(name, 1.0) / (k + position)
            relative[doc] = relative.get(doc, 0.0) + document.score / top
            ranks.setdefault(doc, {})[name] = position
            snippet.setdefault(doc, document.chunk_id)
    order = sorted(fused, key=lambda doc: (-round(fused[doc], 12), -relative[doc], doc))
    return [DocumentScore(doc, fused[doc], snippet[doc], ranks[doc]) for doc in order]


def tiered(window: int, rank_tier: Callable[[int], tuple[list[DocumentScore], bool]]) -> list[DocumentScore]:
    """The ranking down to `window` documents. `rank_tier(size)` ranks documents from candidate lists
    of `size` documents and says whether the candidates were exhausted."""
    placed: list[DocumentScore] = []
    seen: set[int] = set()
    for size in TIERS:
        ranked, exhausted = rank_tier(size)
        for document in ranked:
            if len(placed) >= size:
                break
            if document.document_id not in seen:
                seen.add(document.document_id)
                placed.append(document)
        if exhausted or len(placed) >= window:
            break
    return placed
