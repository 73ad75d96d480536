"""Reciprocal rank fusion (Cormack et al., 2009): merge ranked lists by summing weight / (k + rank)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[Key]], weights: Mapping[str, float], k: int = 60
) -> list[tuple[Key, float, dict[str, int]]]:
    """(item, fused score, {ranking name: 1-based rank}) best first; ties keep first-seen order."""
    scores: dict[Key, float] = {}
    ranks: dict[Key, dict[str, int]] = {}
    for name, ranking in rankings.items():
        weight = weights.get(name, 1.0)
        for position, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + position)
            ranks.setdefault(item, {})[name] = position
    order = sorted(scores, key=lambda item: -scores[item])
    return [(item, scores[item], ranks[item]) for item in order]
