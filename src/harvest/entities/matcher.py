"""Finding catalog entities in text, tolerant to case, accents, punctuation, abbreviations, word order
and typos, without comparing every alias with every span.

Candidate retrieval: each alias is indexed under the one-deletion variants of its rarest identifying
word (its anchor), so a text word one typo away from an anchor finds the alias with a dictionary
lookup; only those candidates are scored with RapidFuzz over the spans around the hit. Overlapping
matches are resolved longest-and-best first; when several entities match a span equally well (a shared
alias), the one whose other names and attributes appear in the surrounding text wins."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from harvest.entities.normalize import (
    DESIGNATORS,
    STOPWORDS,
    deletion_variants,
    key_tokens,
    token_spans,
    tokens,
)

DEFAULT_THRESHOLD = 88.0
TIE_MARGIN = 2.0  # scores this close are a tie broken by context


@dataclass(frozen=True)
class Alias:
    entity_id: int
    entity_type: str
    text: str
    tokens: tuple[str, ...]
    context: frozenset[str] = frozenset()  # tokens of the entity's other names and attributes

    @property
    def normalized(self) -> str:
        return " ".join(self.tokens)

    @property
    def key(self) -> str:
        return " ".join(key_tokens(list(self.tokens)))


def make_alias(entity_id: int, entity_type: str, text: str, context: Iterable[str] = ()) -> Alias | None:
    found = tuple(tokens(text))
    if not found:
        return None
    return Alias(entity_id, entity_type, text, found, frozenset(context))


@dataclass(frozen=True)
class Match:
    entity_id: int
    entity_type: str
    start: int
    end: int
    surface: str
    alias: str
    score: float
    ambiguous: bool = False


@dataclass
class AliasIndex:
    aliases: list[Alias]
    thresholds: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, aliases: Iterable[Alias], thresholds: dict[str, float] | None = None) -> AliasIndex:
        index = cls(list(aliases), dict(thresholds or {}))
        frequency = Counter(t for a in index.aliases for t in set(key_tokens(list(a.tokens))))
        for position, alias in enumerate(index.aliases):
            # the alias's rarest identifying word is its anchor: a mention must contain it (a typo in it
            # is still found through the deletion variants), so common words never fan out to
            # thousands of candidates
            anchor = min(set(key_tokens(list(alias.tokens))), key=lambda t: (frequency[t], -len(t), t))
            for variant in deletion_variants(anchor):
                index.buckets.setdefault(variant, []).append(position)
        return index

    def threshold(self, entity_type: str) -> float:
        return self.thresholds.get(entity_type, DEFAULT_THRESHOLD)

    def find(self, text: str) -> list[Match]:
        spans = token_spans(text)
        words = [t for t, _, _ in spans]
        present = set(words)
        # which text positions hit which alias's anchor (typos included)
        hits: dict[int, set[int]] = {}
        for i, word in enumerate(words):
            if word in STOPWORDS or word in DESIGNATORS:
                continue
            seen: set[int] = set()
            for variant in deletion_variants(word):
                for position in self.buckets.get(variant, ()):
                    if position not in seen:
                        seen.add(position)
                        hits.setdefault(position, set()).add(i)
        best: dict[tuple[int, int], list[tuple[float, Alias]]] = {}
        tried: set[tuple[int, int, int]] = set()
        for position, where in hits.items():
            alias = self.aliases[position]
            size = len(alias.tokens)
            for i in where:
                for length in {max(size - 1, 1), size, size + 1}:
                    for start in range(max(i - length + 1, 0), min(i, len(words) - length) + 1):
                        if (start, length, position) in tried:
                            continue
                        tried.add((start, length, position))
                        score = self._score(words[start : start + length], alias)
                        if score >= self.threshold(alias.entity_type) and self._plausible(
                            text, spans, start, length, alias, score
                        ):
                            best.setdefault((start, start + length), []).append((score, alias))
        return self._resolve(text, spans, best, present)

    @staticmethod
    def _score(window: list[str], alias: Alias) -> float:
        if window[0] in STOPWORDS or window[-1] in STOPWORDS:
            return 0.0
        span = " ".join(window)
        score = max(fuzz.ratio(span, alias.normalized), fuzz.token_sort_ratio(span, alias.normalized))
        span_key = " ".join(key_tokens(window))
        if span_key == span and len(span_key) >= 4:
            # "Acme" for "Acme Corp.": the identifying part alone, written without a designator
            score = max(score, fuzz.ratio(span_key, alias.key) - 1.0)
        return float(score)

    @staticmethod
    def _plausible(
        text: str, spans: list[tuple[str, int, int]], start: int, length: int, alias: Alias, score: float
    ) -> bool:
        surface = text[spans[start][1] : spans[start + length - 1][2]]
        if any(c.isupper() or c.isdigit() for c in surface):
            return True
        # all lower case ("apple pie") names a thing only when it is the alias exactly, or the alias is
        # lower case itself
        return alias.text.islower() or (score >= 100.0 and length >= 2)

    def _resolve(
        self,
        text: str,
        spans: list[tuple[str, int, int]],
        best: dict[tuple[int, int], list[tuple[float, Alias]]],
        present: set[str],
    ) -> list[Match]:
        chosen: list[Match] = []
        taken: set[int] = set()
        ranked = sorted(
            best.items(), key=lambda item: (-max(s for s, _ in item[1]), -(item[0][1] - item[0][0]))
        )
        for (start, end), options in ranked:
            if taken & set(range(start, end)):
                continue
            top = max(score for score, _ in options)
            contenders: dict[int, tuple[float, Alias]] = {}
            for score, alias in options:
                if score >= top - TIE_MARGIN and score > contenders.get(alias.entity_id, (0.0, alias))[0]:
                    contenders[alias.entity_id] = (score, alias)
            ambiguous = len(contenders) > 1
            score, alias = max(
                contenders.values(),
                key=lambda pair: (len(pair[1].context & present), pair[0], -pair[1].entity_id),
            )
            taken |= set(range(start, end))
            chosen.append(
                Match(
                    alias.entity_id,
                    alias.entity_type,
                    spans[start][1],
                    spans[end - 1][2],
                    text[spans[start][1] : spans[end - 1][2]],
                    alias.text,
                    round(score, 2),
                    ambiguous,
                )
            )
        return sorted(chosen, key=lambda m: m.start)
