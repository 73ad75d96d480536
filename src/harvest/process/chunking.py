"""Token-aware chunks packed by section, each with its heading path.

Text arrives as paragraphs (blank-line separated) with markdown headings. Consecutive paragraphs of a
section are packed into a chunk up to the token budget, counted on what the model will read
(`harvest.embedding_input`: page title and heading path, then the text with long code cut short), so
nothing is lost to the model's input limit. A section that fits into the room left in the previous
section's last chunk joins it: the chunk's heading path becomes the part the two share and the joined
section's own heading stays in the text as a line — small neighbouring sections (API entries, FAQ
answers) share a chunk instead of each making a tiny one. A paragraph longer than the budget is split on
sentences (with overlap), a sentence longer than that on token windows, a long code block on lines. No
chunk is under the minimum unless it is a page's only one.

Chunk boundaries depend only on the text of the sections around them, so editing a paragraph changes
its own section's chunks (and their ids, and later their embeddings) and leaves the rest of the page's
chunks as they were.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field

from harvest.embedding_input import PATH_SEPARATOR, abbreviate_code, context_line, embedding_input
from harvest.process.tokens import TokenCounter

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
# sentence ends, ellipsis and CJK full stops included
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f])\s+(?=\S)")
MIN_BODY_SHARE = 0.5  # a long title + heading path never takes more than half of the budget
RAW_TOKENS_FACTOR = 4  # a chunk's own text (code included) stays under this many budgets
TAIL_SHARE = 0.7  # a section's last chunk filled less than this takes the next section's start
FILL_SPLIT_SHARE = 0.2  # room left in a chunk worth filling with the next paragraph's first sentences


@dataclass(frozen=True)
class ChunkDraft:
    id: str
    ordinal: int
    text: str
    token_count: int  # tokens the model reads: title, heading path, text with code cut short
    heading: str | None  # the heading path below the title ("Setup > Databases"), None at the top


@dataclass(frozen=True)
class ChunkingPolicy:
    max_tokens: int = 320
    overlap_tokens: int = 32
    min_tokens: int = 24


@dataclass
class _Section:
    path: tuple[str, ...]
    blocks: list[str]


@dataclass
class _Unit:
    text: str
    cost: int  # tokens as embedded
    raw: int  # tokens of the text itself


@dataclass
class _Open:
    """A chunk being filled: its sections' (path, texts)."""

    parts: list[tuple[tuple[str, ...], list[str]]] = field(default_factory=list)
    cost: int = 0
    raw: int = 0


def paragraphs(text: str) -> list[tuple[str | None, str]]:
    """(nearest heading in force, paragraph) pairs; headings themselves are not paragraphs."""
    return [(s.path[-1] if s.path else None, block) for s in sections(text) for block in s.blocks]


def sections(text: str) -> list[_Section]:
    """The text's paragraphs grouped under their heading path (outermost heading first)."""
    stack: list[tuple[int, str]] = []
    found: list[_Section] = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block:
            continue
        match = _HEADING.match(block)
        if match and "\n" not in block:
            level, title = len(match.group(1)), match.group(2).strip()
            while stack and stack[-1][0] >= level:
                stack.pop()
            if title:
                stack.append((level, title))
            continue
        path = tuple(title for _, title in stack)
        if found and found[-1].path == path:
            found[-1].blocks.append(block)
        else:
            found.append(_Section(path, [block]))
    return found


@dataclass(frozen=True)
class ChunkPiece:
    """A chunk before it has an id: what tokenising costs, computable without the document's id."""

    heading: str | None
    text: str
    token_count: int


def chunk_text(
    text: str,
    document_key: str,
    counter: TokenCounter,
    policy: ChunkingPolicy,
    title: str | None = None,
) -> list[ChunkDraft]:
    return draft_chunks(chunk_pieces(text, counter, policy, title), document_key, title)


def chunk_pieces(
    text: str, counter: TokenCounter, policy: ChunkingPolicy, title: str | None = None
) -> list[ChunkPiece]:
    """The packed chunks of a text with the token counts of what will be embedded (the costly part: a
    process pool's worker does it, without the document's id)."""
    packer = _Packer(counter, policy, title)
    for section in sections(text):
        packer.add(_below_title(section.path, title), section.blocks)
    pieces = packer.finish()
    counts = counter.counts([embedding_input(title, heading, body) for heading, body in pieces])
    return [ChunkPiece(heading, body, count) for (heading, body), count in zip(pieces, counts, strict=True)]


def draft_chunks(pieces: list[ChunkPiece], document_key: str, title: str | None = None) -> list[ChunkDraft]:
    """Ids from the document's key and the chunk's own content (cheap: one hash per chunk)."""
    seen: Counter[str] = Counter()
    drafts = []
    for ordinal, piece in enumerate(pieces):
        key = f"{document_key}\x1f{title or ''}\x1f{piece.heading or ''}\x1f{piece.text}"
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


class _Packer:
    def __init__(self, counter: TokenCounter, policy: ChunkingPolicy, title: str | None) -> None:
        self.counter = counter
        self.policy = policy
        self.title = title
        self.done: list[tuple[str | None, str]] = []
        self.open = _Open()

    def _budget(self, path: tuple[str, ...]) -> int:
        context = context_line(self.title, PATH_SEPARATOR.join(path) or None)
        used = self.counter.counts([context + "\n\n"])[0] if context else 0
        return max(self.policy.max_tokens - used, int(self.policy.max_tokens * MIN_BODY_SHARE))

    def add(self, path: tuple[str, ...], blocks: list[str]) -> None:
        budget = self._budget(path)
        units = self._units(blocks, budget)
        cost = sum(u.cost for u in units) + len(units)
        raw = sum(u.raw for u in units)
        if self.open.parts:
            before = self._shared()
            shared = _common(before, path)
            # this section's heading as a line, and the lines the parts already in the chunk need when
            # the heading path they share becomes shorter
            label_cost = self._label_cost(path, shared) + sum(
                self._label_cost(part, shared) - self._label_cost(part, before) for part, _ in self.open.parts
            )
            fits = self.open.raw + raw <= RAW_TOKENS_FACTOR * self.policy.max_tokens
            if fits and self.open.cost + label_cost + cost <= self._budget(shared):
                self.open.parts.append((path, [u.text for u in units]))  # the whole section joins
                self.open.cost += label_cost + cost
                self.open.raw += raw
                return
            if self.open.cost + label_cost < TAIL_SHARE * budget:
                # the previous section's small tail: this section's first paragraphs fill its chunk
                self.open.parts.append((path, []))
                self.open.cost += label_cost
            else:
                self._close()
        queue = list(units)
        while queue:
            unit = queue.pop(0)
            room = budget - self.open.cost - 1
            if self.open.parts and (
                unit.cost > room or self.open.raw + unit.raw > RAW_TOKENS_FACTOR * self.policy.max_tokens
            ):
                head = self._sentences_within(unit, room) if room >= FILL_SPLIT_SHARE * budget else None
                if head is not None:  # fill the room with the paragraph's first sentences
                    self.open.parts[-1][1].append(head[0].text)
                    self.open.cost += head[0].cost + 1
                    self.open.raw += head[0].raw
                queue.insert(0, head[1] if head is not None else unit)
                self._close()
                continue
            if not self.open.parts:
                self.open.parts.append((path, []))
            self.open.parts[-1][1].append(unit.text)
            self.open.cost += unit.cost + 1
            self.open.raw += unit.raw

    def _shared(self) -> tuple[str, ...]:
        """The heading path every part of the open chunk shares (its context line at the top)."""
        shared = self.open.parts[0][0]
        for path, _ in self.open.parts[1:]:
            shared = _common(shared, path)
        return shared

    def _label_cost(self, path: tuple[str, ...], shared: tuple[str, ...]) -> int:
        label = PATH_SEPARATOR.join(path[len(shared) :])
        return self.counter.counts([label])[0] + 1 if label else 0

    def finish(self) -> list[tuple[str | None, str]]:
        last = self.open
        if last.parts and self.done and last.cost < self.policy.min_tokens:
            # a page's last bit, too small to stand alone, joins the chunk before it
            heading, body = self.done.pop()
            tail = self._render(last.parts, ())
            self.done.append((heading, f"{body}\n\n{tail}"))
        elif last.parts:
            self._close()
        return self.done

    def _close(self) -> None:
        parts = [part for part in self.open.parts if part[1]]
        if parts:
            shared = parts[0][0]
            for path, _ in parts[1:]:
                shared = _common(shared, path)
            self.done.append((PATH_SEPARATOR.join(shared) or None, self._render(parts, shared)))
        self.open = _Open()

    @staticmethod
    def _render(parts: list[tuple[tuple[str, ...], list[str]]], shared: tuple[str, ...]) -> str:
        texts: list[str] = []
        for path, blocks in parts:
            if not blocks:
                continue
            if path[len(shared) :]:
                texts.append(PATH_SEPARATOR.join(path[len(shared) :]))  # the heading as a line
            texts.extend(blocks)
        return "\n\n".join(texts)

    def _units(self, blocks: list[str], budget: int) -> list[_Unit]:
        shown = [abbreviate_code(block) for block in blocks]
        costs = self.counter.counts(shown)
        raws = self.counter.counts(blocks) if shown != blocks else costs
        units: list[_Unit] = []
        for block, cost, raw in zip(blocks, costs, raws, strict=True):
            if block.startswith("```") and raw > self._code_window_tokens():
                units.extend(self._code_windows(block))
            elif cost <= budget:
                units.append(_Unit(block, cost, raw))
            else:
                units.extend(
                    _Unit(part, n, n) for part, n in _split_long(block, self.counter, budget, self.policy)
                )
        return units

    def _sentences_within(self, unit: _Unit, room: int) -> tuple[_Unit, _Unit] | None:
        """The unit cut after its last sentence that fits the room, or None (code, or a first sentence
        longer than the room)."""
        if unit.text.startswith("```"):
            return None
        sentences = [s for s in _SENTENCE_END.split(unit.text) if s.strip()]
        if len(sentences) < 2:
            return None
        counts = self.counter.counts(sentences)
        taken, size = 0, 0
        while taken < len(sentences) - 1 and size + counts[taken] + 1 <= room:
            size += counts[taken] + 1
            taken += 1
        if taken == 0:
            return None
        head, rest = " ".join(sentences[:taken]), " ".join(sentences[taken:])
        rest_count = self.counter.counts([rest])[0]
        return _Unit(head, size, size), _Unit(rest, rest_count, rest_count)

    def _code_window_tokens(self) -> int:
        # the model reads only a code block's first lines: longer pieces keep listings in few chunks
        return RAW_TOKENS_FACTOR * self.policy.max_tokens // 2

    def _code_windows(self, block: str) -> list[_Unit]:
        """A long code block as fenced pieces of whole lines."""
        lines = block.strip("`\n").splitlines()
        counts = self.counter.counts(lines)
        pieces: list[list[str]] = [[]]
        size = 0
        for line, count in zip(lines, counts, strict=True):
            if pieces[-1] and size + count > self._code_window_tokens():
                pieces.append([])
                size = 0
            pieces[-1].append(line)
            size += count + 1
        units = []
        for piece in pieces:
            fenced = "```\n" + "\n".join(piece) + "\n```"
            cost, raw = self.counter.counts([abbreviate_code(fenced), fenced])
            units.append(_Unit(fenced, cost, raw))
        return units


def _common(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    shared = []
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        shared.append(a)
    return tuple(shared)


def _below_title(path: tuple[str, ...], title: str | None) -> tuple[str, ...]:
    """The heading path without a first heading that only repeats the page title."""
    if path and title and " ".join(path[0].split()).casefold() == " ".join(title.split()).casefold():
        return path[1:]
    return path


def _split_long(
    block: str, counter: TokenCounter, size: int, policy: ChunkingPolicy
) -> list[tuple[str, int]]:
    overlap = min(policy.overlap_tokens, size // 2)
    sentences = [s for s in _SENTENCE_END.split(block) if s.strip()]
    units: list[str] = []
    for sentence, count in zip(sentences, counter.counts(sentences), strict=True):
        if count <= size:
            units.append(sentence)
        else:
            units.extend(counter.windows(sentence, size, overlap))
    counts = counter.counts(units)
    windows: list[tuple[str, int]] = []
    start = 0
    while start < len(units):
        end, total = start, 0
        while end < len(units) and (end == start or total + counts[end] <= size):
            total += counts[end]
            end += 1
        windows.append((" ".join(units[start:end]), total))
        if end >= len(units):
            break
        # carry whole sentences from the end of this window, up to the overlap budget
        back, carried = end, 0
        while back - 1 > start and carried + counts[back - 1] <= overlap:
            back -= 1
            carried += counts[back]
        start = back
    return windows
