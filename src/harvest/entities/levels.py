"""Comparison levels and candidate blocking keys for each column type (see `fields.py`), as Splink
comparisons in the SQL dialect of the backend that runs them (DuckDB or Spark)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harvest.entities.fields import Field


@dataclass(frozen=True)
class Dialect:
    name: str  # "duckdb" or "spark"
    jw: str
    dl: str

    def days_apart(self, left: str, right: str) -> str:
        if self.name == "spark":
            return f"abs(datediff({left}, {right}))"
        return f"abs(date_diff('day', {left}, {right}))"


DUCKDB = Dialect("duckdb", "jaro_winkler_similarity", "damerau_levenshtein")
SPARK = Dialect("spark", "jaro_winkler", "damerau_levenshtein")


def _level(sql: str, label: str, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, **extra}


def _null(column: str) -> dict[str, Any]:
    return _level(f'"{column}_l" IS NULL OR "{column}_r" IS NULL', "null", is_null_level=True)


def _exact(column: str, label: str = "exact", tf: bool = False) -> dict[str, Any]:
    extra = {"tf_adjustment_column": column, "tf_adjustment_weight": 1.0} if tf else {}
    return _level(f'"{column}_l" = "{column}_r"', label, **extra)


def _jw(d: Dialect, column: str, threshold: float, label: str | None = None) -> dict[str, Any]:
    return _level(
        f'{d.jw}("{column}_l", "{column}_r") >= {threshold}', label or f"Jaro-Winkler >= {threshold}"
    )


def _dl(d: Dialect, column: str, label: str = "one character off") -> dict[str, Any]:
    """Damerau-Levenshtein <= 1, behind cheap guards: it is slow (DuckDB: ~2 s per million pairs)
    and most pairs fail the guards. One edit keeps the lengths within one and Jaro-Winkler >= 0.8
    for strings of four or more characters."""
    left, right = f'"{column}_l"', f'"{column}_r"'
    return _level(
        f"abs(length({left}) - length({right})) <= 1 AND (least(length({left}), length({right})) <= 3 "
        f"OR {d.jw}({left}, {right}) >= 0.8) AND {d.dl}({left}, {right}) <= 1",
        label,
    )


ELSE = {"sql_condition": "ELSE", "label_for_charts": "all other"}


def comparison(f: Field, d: Dialect, partner: Field | None = None) -> dict[str, Any]:
    """The Splink comparison of one field. `partner` is the other person-name column (given name ↔
    surname), for the level that recognises the two written the other way round."""
    c = f.name
    levels: list[dict[str, Any]] = [_null(c)]
    if f.kind == "exact":
        levels += [_exact(c)]
    elif f.kind == "id":
        levels += [_exact(c), _dl(d, c)]
    elif f.kind == "date":
        dd = f.col("d")
        levels += [
            _exact(c),
            _level(
                f'substr("{c}_l", 1, 4) = substr("{c}_r", 1, 4) AND substr("{c}_l", 5, 2) = '
                f'substr("{c}_r", 7, 2) AND substr("{c}_l", 7, 2) = substr("{c}_r", 5, 2)',
                "day and month transposed",
            ),
            _dl(d, c, "one digit off"),
            _level(f"{d.days_apart(f'{dd}_l', f'{dd}_r')} <= 31", "within a month"),
            _level(f"{d.days_apart(f'{dd}_l', f'{dd}_r')} <= 366", "within a year"),
        ]
    elif f.kind == "postcode":
        area = f.col("area")
        levels += [_exact(c), _dl(d, c), _level(f'"{area}_l" = "{area}_r"', "same area")]
    elif f.kind == "address":
        levels += [_exact(c), _jw(d, c, 0.92), _jw(d, c, 0.8)]
    elif f.kind == "email":
        user = f.col("user")
        levels += [
            _exact(c),
            _level(f'"{user}_l" = "{user}_r"', "same user name"),
            _jw(d, c, 0.88),
            _jw(d, user, 0.88, "user name Jaro-Winkler >= 0.88"),
        ]
    elif f.kind == "phone":
        levels += [_exact(c), _dl(d, c, "one digit off")]
    elif f.kind == "text":
        levels += [_exact(c), _jw(d, c, 0.9), _jw(d, c, 0.7)]
    elif f.kind == "name":
        key = f.col("key")
        levels += [
            _exact(c, tf=True),
            _level(f'"{key}_l" = "{key}_r"', "same words (any order, designators ignored)"),
            _jw(d, key, 0.92),
            _jw(d, key, 0.8),
        ]
    elif f.kind == "person_name":
        ph = f.col("ph")
        levels += [_exact(c, tf=True), _jw(d, c, 0.92)]
        if partner is not None:
            p = partner.name
            levels.append(
                _level(
                    f'{d.jw}("{c}_l", "{p}_r") >= 0.92 AND {d.jw}("{p}_l", "{c}_r") >= 0.92',
                    f"swapped with {partner.column}",
                )
            )
        levels += [_jw(d, c, 0.88), _level(f'"{ph}_l" = "{ph}_r"', "same phonetic code"), _jw(d, c, 0.7)]
    else:  # pragma: no cover - parse_fields rejects unknown types
        raise AssertionError(f.kind)
    levels.append(ELSE)
    _starting_m(levels)
    return {
        "output_column_name": c,
        "comparison_description": f"{f.column} ({f.kind})",
        "comparison_levels": levels,
    }


def _starting_m(levels: list[dict[str, Any]]) -> None:
    """Starting m values (EM refines them; a level EM cannot see keeps them): exact agreement most
    likely for a true match, each weaker level about half as likely as the one before, disagreement
    rare. Splink's own defaults give every fuzzy level the same tiny m, which makes a fuzzy agreement
    count against a match when a column cannot be trained."""
    graded = [level for level in levels if not level.get("is_null_level")]
    fuzzy = graded[1:-1]
    shares = [0.6] + [0.35 * 0.5**i for i in range(len(fuzzy))] + [0.05]
    total = sum(shares)
    for level, share in zip(graded, shares, strict=True):
        level["m_probability"] = share / total


def partners(fields: list[Field]) -> dict[str, Field]:
    """Person-name columns paired in order (given name with surname): each is the other's partner."""
    names = [f for f in fields if f.kind == "person_name"]
    pairs: dict[str, Field] = {}
    for first, second in zip(names[0::2], names[1::2], strict=False):
        pairs[first.name], pairs[second.name] = second, first
    return pairs


@dataclass
class Rule:
    """A blocking rule: every (left expression, right expression) must be equal. Expressions are
    derived column names."""

    label: str
    equal: list[tuple[str, str]] = field(default_factory=list)
    note: str = ""

    @property
    def symmetric(self) -> bool:
        return all(a == b for a, b in self.equal)

    def sql(self) -> str:
        return " AND ".join(f'l."{a}" = r."{b}"' for a, b in self.equal)

    def columns(self) -> set[str]:
        return {c for pair in self.equal for c in pair}

    def and_(self, other: Rule) -> Rule:
        return Rule(
            f"{self.label} + {other.label}", self.equal + [p for p in other.equal if p not in self.equal]
        )


def _key(f: Field) -> str:
    """The column a type blocks on when two records must agree on it."""
    return f.col("key") if f.kind == "name" else f.col()


def candidate_rules(fields: list[Field]) -> list[Rule]:
    """The blocking rules a set of types suggests: each column on its own (an organisation's name also
    by sound), both person names by sound (and swapped), the postcode with the first letter of the first
    name. Rules that would compare too much are narrowed or dropped by `blocking.plan`."""
    rules: list[Rule] = []
    names = [f for f in fields if f.kind == "person_name"]
    first_name_like = next((f for f in fields if f.kind in ("person_name", "name")), None)
    for f in fields:
        if f.kind in ("id", "email", "phone", "date", "address", "name", "exact", "text"):
            rules.append(Rule(f.column, [(_key(f), _key(f))]))
        if f.kind == "name":
            rules.append(Rule(f"{f.column}~", [(f.col("ph"), f.col("ph"))]))
        elif f.kind == "postcode":
            rule = Rule(f.column, [(f.col(), f.col())])
            if first_name_like is not None:
                rule = rule.and_(Rule(f"{first_name_like.column}[1]", [(first_name_like.col("i1"),) * 2]))
            rules.append(rule)
    for a, b in zip(names[0::2], names[1::2], strict=False):
        rules.append(
            Rule(f"{a.column}~ + {b.column}~", [(a.col("ph"), a.col("ph")), (b.col("ph"), b.col("ph"))])
        )
        rules.append(
            Rule(
                f"{a.column}~ + {b.column}~ swapped",
                [(a.col("ph"), b.col("ph")), (b.col("ph"), a.col("ph"))],
            )
        )
    if len(names) % 2:
        last = names[-1]
        rules.append(Rule(last.column, [(last.col(), last.col())]))
    return rules


def refinements(fields: list[Field]) -> list[Rule]:
    """Keys a too-broad rule can be narrowed with (ANDed)."""
    out = [Rule(f.column, [(_key(f), _key(f))]) for f in fields if f.kind != "text"]
    out += [
        Rule(f"{f.column}[1]", [(f.col("i1"), f.col("i1"))])
        for f in fields
        if f.kind in ("person_name", "name")
    ]
    return out


def user_rule(columns: list[str], fields: list[Field]) -> Rule:
    by_column = {f.column: f for f in fields}
    rule = Rule(" + ".join(columns))
    for column in columns:
        if column not in by_column:
            raise KeyError(column)
        key = _key(by_column[column])
        rule.equal.append((key, key))
    return rule
