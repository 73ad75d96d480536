"""Choosing blocking rules that find (nearly) every true pair without comparing everything: each
candidate rule's comparison count is measured first; a rule that would compare too much is narrowed
with another key (or, if nothing narrows it enough, dropped — and said so); the largest blocks of each
kept rule are reported, never skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harvest.entities.levels import Rule

LARGE_BLOCK_ROWS = 1000  # a block this big (all pairs in it compared) is worth telling the user about


@dataclass
class RulePlan:
    rule: Rule
    pairs: int
    largest_key: str | None = None
    largest_rows: int = 0
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule.label,
            "sql": self.rule.sql(),
            "pairs": self.pairs,
            "largest_block": self.largest_key,
            "largest_block_rows": self.largest_rows,
            "note": self.note,
        }


@dataclass
class BlockingPlan:
    kept: list[RulePlan] = field(default_factory=list)
    dropped: list[RulePlan] = field(default_factory=list)
    budget: int = 0

    @property
    def pairs_upper_bound(self) -> int:
        return sum(p.pairs for p in self.kept)

    def large_blocks(self) -> list[RulePlan]:
        return [p for p in self.kept if p.largest_rows >= LARGE_BLOCK_ROWS]


def _keys_sql(rule: Rule, side: int) -> str:
    return ", ".join(f'"{pair[side]}"' for pair in rule.equal)


def count_pairs(con: Any, rule: Rule, tables: list[str]) -> tuple[int, str | None, int]:
    """(comparisons the rule generates, its largest block's key, that block's rows on the bigger side).

    Dedupe: sum of n(n-1)/2 per key (a swapped rule: half the pairs of records whose keys mirror each
    other). Link: sum of rows in A x rows in B per key."""
    not_null = " AND ".join(f'"{a}" IS NOT NULL' for a, _ in rule.equal)
    left = _keys_sql(rule, 0)
    label = "concat_ws(' | ', " + ", ".join(f'a."{x}"' for x, _ in rule.equal) + ")"
    first, second = tables[0], tables[-1]
    if len(tables) == 1 and rule.symmetric:
        sql = (
            f"WITH a AS (SELECT {left}, count(*) AS n FROM {first} WHERE {not_null} GROUP BY ALL) "
            f"SELECT coalesce(sum(n * (n - 1) / 2), 0), (SELECT {label} FROM a ORDER BY n DESC LIMIT 1), "
            "coalesce(max(n), 0) FROM a"
        )
    else:
        join = " AND ".join(f'a."{x}" = b."{y}"' for x, y in rule.equal)
        renamed = ", ".join(f'"{y}"' for _, y in rule.equal)
        total = "sum(na * nb)" if len(tables) == 2 else "sum(na * nb) / 2"
        sql = (
            f"WITH a AS (SELECT {left}, count(*) AS n FROM {first} WHERE {not_null} GROUP BY ALL), "
            f"b AS (SELECT {renamed}, count(*) AS n FROM {second} GROUP BY ALL), "
            f"j AS (SELECT {label} AS k, a.n AS na, b.n AS nb FROM a JOIN b ON {join}) "
            f"SELECT coalesce({total}, 0), (SELECT k FROM j ORDER BY na * nb DESC LIMIT 1), "
            "coalesce(max(greatest(na, nb)), 0) FROM j"
        )
    pairs, key, rows = con.execute(sql).fetchall()[0]
    return int(pairs), key, int(rows)


def plan(
    con: Any, rules: list[Rule], narrowers: list[Rule], tables: list[str], budget: int, *, user_given: bool
) -> BlockingPlan:
    """Measure each rule; narrow the ones over `budget` comparisons with the key that keeps the most
    pairs within it. Rules a user wrote are kept as they are (only reported)."""
    result = BlockingPlan(budget=budget)
    for rule in rules:
        pairs, key, rows = count_pairs(con, rule, tables)
        if pairs <= budget or user_given:
            note = f"over the {budget:,} budget, kept as written" if pairs > budget else ""
            result.kept.append(RulePlan(rule, pairs, key, rows, note))
            continue
        best: tuple[Rule, int, str | None, int] | None = None
        for narrower in narrowers:
            if narrower.columns() <= rule.columns():
                continue
            candidate = rule.and_(narrower)
            n, k, r = count_pairs(con, candidate, tables)
            if n <= budget and (best is None or n > best[1]):
                best = (candidate, n, k, r)
        if best is None:
            result.dropped.append(
                RulePlan(
                    rule,
                    pairs,
                    key,
                    rows,
                    f"{pairs:,} comparisons, over the {budget:,} budget, and no key narrows it enough",
                )
            )
            continue
        narrowed, n, k, r = best
        result.kept.append(
            RulePlan(narrowed, n, k, r, f"{rule.label} alone: {pairs:,} comparisons (budget {budget:,})")
        )
    return result
