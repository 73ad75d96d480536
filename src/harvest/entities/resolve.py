"""Entity resolution: which records denote the same real-world thing.

Blocking keeps comparisons few: two records are compared only when they share a blocking key (the first
four letters of an identifying name token, or that token with one letter dropped — so one typo, a
missing word or swapped words still meet). Each pair gets field-wise RapidFuzz similarities: the name
counts most (word by word, in any order, typos tolerated, designators ignored); every other field
both records have adds evidence for or against. Pairs above the threshold are linked and clusters are
the connected components, with people's decisions applied on top: a merge always links, a split
never lets two records meet in one cluster."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import combinations

from rapidfuzz import fuzz

from harvest.entities.normalize import deletion_variants, key_tokens, normalize, tokens

logger = logging.getLogger(__name__)
MAX_BLOCK = 300  # bigger blocks are keys too common to mean anything (e.g. "intl")
NAME_WEIGHT = 0.7


@dataclass(frozen=True)
class Row:
    key: int
    name: str
    fields: dict[str, str] = field(default_factory=dict)


def blocking_keys(name: str) -> set[str]:
    keys: set[str] = set()
    for token in key_tokens(tokens(name)):
        if len(token) < 2:
            continue
        keys.add("p:" + token[:4])
        keys.update("d:" + variant for variant in deletion_variants(token) if len(token) >= 5)
        if len(token) < 5:
            keys.add("t:" + token)
    return keys


TOKEN_MATCH = 80.0  # two words this similar (one typo in a word of five or more letters) are one word


def _coverage(these: list[str], those: list[str]) -> float:
    """How well each of `these` words is matched by some word of `those` (0 to 1)."""
    total = 0.0
    for word in these:
        best = max(fuzz.ratio(word, other) for other in those)
        total += best if best >= TOKEN_MATCH else 0.0
    return total / (100.0 * len(these))


def name_similarity(a: str, b: str) -> float:
    """Word by word, in any order, on the identifying words (designators such as "Inc." and
    "Corporation" are not evidence): every word of each name must have a close counterpart."""
    ka, kb = key_tokens(tokens(a)), key_tokens(tokens(b))
    if not ka or not kb:
        return 0.0
    return min(_coverage(ka, kb), _coverage(kb, ka))


def pair_score(a: Row, b: Row) -> float:
    """0 to 1: the name's similarity, moved towards the other fields' agreement where both have them."""
    name = name_similarity(a.name, b.name)
    shared = [f for f in a.fields if f in b.fields and a.fields[f] and b.fields[f]]
    if not shared:
        return name
    others = sum(fuzz.token_sort_ratio(normalize(a.fields[f]), normalize(b.fields[f])) for f in shared)
    return NAME_WEIGHT * name + (1 - NAME_WEIGHT) * others / (100.0 * len(shared))


def candidate_pairs(rows: Sequence[Row], only: set[int] | None = None) -> set[tuple[int, int]]:
    """Pairs (smaller key, larger key) sharing a block; with `only`, pairs touching those keys."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for position, row in enumerate(rows):
        for key in blocking_keys(row.name):
            blocks[key].append(position)
    pairs: set[tuple[int, int]] = set()
    # a key this common says nothing (its rows still meet through their other keys): skipped, but
    # never silently
    common = sorted(((len(m), k) for k, m in blocks.items() if len(m) > MAX_BLOCK), reverse=True)
    if common:
        logger.warning(
            "common blocking keys skipped",
            extra={
                "keys": len(common),
                "largest": f"{common[0][1]} ({common[0][0]} rows)",
                "limit": MAX_BLOCK,
            },
        )
    for members in blocks.values():
        if len(members) < 2 or len(members) > MAX_BLOCK:
            continue
        for i, j in combinations(members, 2):
            a, b = rows[i].key, rows[j].key
            if only is not None and a not in only and b not in only:
                continue
            pairs.add((min(a, b), max(a, b)))
    return pairs


def score_pairs(
    rows: Sequence[Row], threshold: float, only: set[int] | None = None
) -> list[tuple[int, int, float]]:
    by_key = {row.key: row for row in rows}
    matched = []
    for a, b in candidate_pairs(rows, only):
        score = pair_score(by_key[a], by_key[b])
        if score >= threshold:
            matched.append((a, b, round(score, 4)))
    return matched


def clusters(
    keys: Iterable[int],
    edges: Iterable[tuple[int, int, float]],
    merges: Iterable[tuple[int, int]] = (),
    splits: Iterable[tuple[int, int]] = (),
) -> dict[int, int]:
    """key → cluster id (the smallest key in it). Merges are applied first; then matches, best first,
    unless they would put two records a split separates in one cluster."""
    parent = {key: key for key in keys}
    members = {key: {key} for key in parent}

    def find(key: int) -> int:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    forbidden = {(min(a, b), max(a, b)) for a, b in splits}

    def union(a: int, b: int, *, forced: bool) -> None:
        ra, rb = find(a), find(b)
        if ra == rb:
            return
        if not forced and any((min(x, y), max(x, y)) in forbidden for x in members[ra] for y in members[rb]):
            return
        if rb < ra:
            ra, rb = rb, ra
        parent[rb] = ra
        members[ra] |= members.pop(rb)

    for a, b in merges:
        if a in parent and b in parent:
            union(a, b, forced=True)
    for a, b, _ in sorted(edges, key=lambda edge: -edge[2]):
        if a in parent and b in parent:
            union(a, b, forced=False)
    return {key: find(key) for key in parent}


def pairwise_scores(predicted: dict[int, int], truth: dict[int, int]) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of a clustering against the true one."""

    def pairs(assignment: dict[int, int]) -> set[tuple[int, int]]:
        groups: dict[int, list[int]] = defaultdict(list)
        for key, cluster in assignment.items():
            groups[cluster].append(key)
        return {(min(a, b), max(a, b)) for group in groups.values() for a, b in combinations(group, 2)}

    found, expected = pairs(predicted), pairs(truth)
    true_positive = len(found & expected)
    precision = true_positive / len(found) if found else 1.0
    recall = true_positive / len(expected) if expected else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1
