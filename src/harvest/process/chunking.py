"""Token-aware chunks whose ids depend only on their own content.

Text arrives as paragraphs (blank-line separated) with markdown headings. A chunk is one paragraph —
short ones merged into the next, long ones split on sentences (with overlap), a sentence longer than a
chunk split on token windows. Boundaries never depend on text elsewhere in the document, so editing a
paragraph changes that paragraph's chunks and leaves every other chunk — and its id, and later its
embedding — as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass

from harvest.process.tokens import TokenCounter

_HEADING = re.compile(r"^#{1,6}\s+(.*)$")
# sentence ends, ellipsis and CJK full stops included
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f])\s+(?=\S)")


@dataclass(frozen=True)
class ChunkDraft:
    id: str
    ordinal: int
    text: str
    token_count: int
    heading: str | None


@dataclass(frozen=True)
class ChunkingPolicy:
    max_tokens: int = 200
    overlap_tokens: int = 32
    min_tokens: int = 24


def paragraphs(text: str) -> list[tuple[str | None, str]]:
    """(heading in force, paragraph) pairs; headings themselves are not paragraphs."""
    heading: str | None = None
    found = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        match = _HEADING.match(block)
        if match and "\n" not in block:
            heading = match.group(1).strip() or None
            continue
        found.append((heading, block))
    return found


@dataclass(frozen=True)
class ChunkPiece:
    """A chunk before it has an id: what tokenising costs, computable without the document's id."""

    heading: str | None
    text: str
    token_count: int


def chunk_text(
    text: str, document_key: str, counter: TokenCounter, policy: ChunkingPolicy
) -> list[ChunkDraft]:
    return draft_chunks(chunk_pieces(text, counter, policy), document_key)


def chunk_pieces(text: str, counter: TokenCounter, policy: ChunkingPolicy) -> list[ChunkPiece]:
    blocks = paragraphs(text)
    counts = counter.counts([block for _, block in blocks])
    pieces: list[ChunkPiece] = []
    pending: ChunkPiece | None = None
    for (heading, block), count in zip(blocks, counts, strict=True):
        if pending is not None:
            if pending.heading == heading and pending.token_count + count <= policy.max_tokens:
                block, count = pending.text + "\n\n" + block, pending.token_count + count
            else:
                pieces.append(pending)
            pending = None
        if count < policy.min_tokens:
            pending = ChunkPiece(heading, block, count)  # merged into the next paragraph of the section
            continue
        if count <= policy.max_tokens:
            pieces.append(ChunkPiece(heading, block, count))
        else:
            pieces.extend(ChunkPiece(heading, part, n) for part, n in _split_long(block, counter, policy))
    if pending is not None:
        pieces.append(pending)
    return pieces


def draft_chunks(pieces: list[ChunkPiece], document_key: str) -> list[ChunkDraft]:
    """Ids from the document's key and the chunk's own content (cheap: one hash per chunk)."""
    seen: Counter[str] = Counter()
    drafts = []
    for ordinal, piece in enumerate(pieces):
        key = f"{document_key}\x1f{piece.heading or ''}\x1f{piece.text}"
        seen[key] += 1  # the same paragraph twice in one document gets two ids
        digest = hashlib.sha256(f"{key}\x1f{seen[key]}".encode()).hexdigest()
        drafts.append(
            ChunkDraft(
                id=digest,
                ordinal=ordinal,
                text=piece.text,
                token_count=piece.token_count,
                heading=piece.heading,
            )
        )
    return drafts


def _split_long(block: str, counter: TokenCounter, policy: ChunkingPolicy) -> list[tuple[str, int]]:
    sentences = [s for s in _SENTENCE_END.split(block) if s.strip()]
    units: list[str] = []
    for sentence, count in zip(sentences, counter.counts(sentences), strict=True):
        if count <= policy.max_tokens:
            units.append(sentence)
        else:
            units.extend(counter.windows(sentence, policy.max_tokens, policy.overlap_tokens))
    counts = counter.counts(units)
    windows: list[tuple[str, int]] = []
    start = 0
    while start < len(units):
        end, total = start, 0
        while end < len(units) and (end == start or total + counts[end] <= policy.max_tokens):
            total += counts[end]
            end += 1
        windows.append((" ".join(units[start:end]), total))
        if end >= len(units):
            break
        # carry whole sentences from the end of this window, up to the overlap budget
        back, carried = end, 0
        while back - 1 > start and carried + counts[back - 1] <= policy.overlap_tokens:
            back -= 1
            carried += counts[back]
        start = back
    return windows
