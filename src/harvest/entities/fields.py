"""Column types for record linkage: what a user declares (`surname:person_name`), and what Harvest
derives from it — a normalised value (plus helper columns such as a phonetic code), the comparison
levels Splink scores, and the blocking keys that find candidate pairs.

Every type starts with a null level (either side empty: no evidence either way) and ends with an
"anything else" level; the levels in between go from the strongest agreement to the weakest, and the
first that holds is the one a pair gets. Splink estimates how much each level says (m and u), so the
levels only have to be meaningful, never weighted by hand."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harvest.errors import InvalidInputError

TYPES = ("name", "person_name", "date", "id", "postcode", "address", "email", "phone", "text", "exact")
# What a column whose type is not given is taken for, by words in its name (the first match wins).
_GUESSES = (
    (re.compile(r"birth|dob|date|_dt$|day"), "date"),
    (re.compile(r"post_?code|zip|postal|plz"), "postcode"),
    (re.compile(r"e_?mail"), "email"),
    (re.compile(r"phone|mobile|tel|fax"), "phone"),
    (re.compile(r"given|first_?name|forename|surname|last_?name|family|middle"), "person_name"),
    (re.compile(r"addr|street|road"), "address"),
    (re.compile(r"(^|_)(id|ssn|nin|passport|licen[cs]e|number|no|code)($|_)|soc_sec"), "id"),
    (re.compile(r"name|company|organi[sz]ation|title|brand"), "name"),
    (re.compile(r"state|country|gender|sex"), "exact"),
)
_SAFE = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Field:
    """One compared column: the user's column, its type, and the identifier used in SQL and outputs."""

    column: str
    kind: str
    name: str

    def col(self, suffix: str = "") -> str:
        return f"{self.name}__{suffix}" if suffix else self.name


def safe_name(column: str, taken: set[str]) -> str:
    base = _SAFE.sub("_", column.casefold()).strip("_") or "column"
    if base[0].isdigit():
        base = "c_" + base
    name, n = base, 2
    while name in taken or name.startswith("__") or name in {"unique_id", "source_dataset", "cluster_id"}:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def guess_type(column: str) -> str:
    key = _SAFE.sub("_", column.casefold())
    return next((kind for pattern, kind in _GUESSES if pattern.search(key)), "text")


def parse_fields(spec: str | list[str] | dict[str, str]) -> list[tuple[str, str | None]]:
    """`a:person_name,b:date` (or a list / mapping) → [(column, type or None)]; types are checked."""
    items: list[tuple[str, str | None]] = []
    if isinstance(spec, dict):
        items = [(str(k), None if v is None else str(v)) for k, v in spec.items()]
    else:
        parts = spec.split(",") if isinstance(spec, str) else [str(p) for p in spec]
        for part in (p.strip() for p in parts):
            if not part:
                continue
            column, sep, kind = part.rpartition(":")
            items.append((column.strip(), kind.strip()) if sep else (part, None))
    if not items:
        raise InvalidInputError("no fields: give --fields column:type,… (types: " + ", ".join(TYPES) + ")")
    seen: set[str] = set()
    for column, wanted in items:
        if not column:
            raise InvalidInputError(f"a field has no column name (types: {', '.join(TYPES)})")
        if wanted is not None and wanted not in TYPES:
            raise InvalidInputError(f"field {column!r}: unknown type {wanted!r} (types: {', '.join(TYPES)})")
        if column in seen:
            raise InvalidInputError(f"field {column!r} is listed twice")
        seen.add(column)
    return items


def make_fields(items: list[tuple[str, str | None]]) -> list[Field]:
    taken: set[str] = set()
    return [Field(column, kind or guess_type(column), safe_name(column, taken)) for column, kind in items]


@dataclass
class LinkConfig:
    """What a user writes: fields with types, optionally an id column, a threshold, extra blocking rules
    (lists of columns that must all be equal) and a seed."""

    fields: list[tuple[str, str | None]]
    id_column: str | None = None
    threshold: float | None = None
    blocking: list[list[str]] | None = None


def load_config(path: Path) -> LinkConfig:
    """A small YAML file: `fields: {given_name: person_name, …}`, optional `id:`, `threshold:`,
    `blocking: [[postcode, surname], date_of_birth]`."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidInputError(f"{path} does not exist") from error
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise InvalidInputError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from error
    if not isinstance(data, dict) or "fields" not in data:
        raise InvalidInputError(f"{path}: expected a mapping with a 'fields' key (column: type)")
    unknown = set(data) - {"fields", "id", "threshold", "blocking"}
    if unknown:
        raise InvalidInputError(
            f"{path}: unknown key {sorted(unknown)[0]!r} (fields, id, threshold, blocking)"
        )
    fields = data["fields"]
    if not isinstance(fields, dict | list | str):
        raise InvalidInputError(f"{path}: 'fields' must map columns to types")
    threshold = data.get("threshold")
    if threshold is not None and not isinstance(threshold, int | float):
        raise InvalidInputError(f"{path}: 'threshold' must be a probability between 0 and 1")
    blocking = data.get("blocking")
    rules: list[list[str]] | None = None
    if blocking is not None:
        if not isinstance(blocking, list):
            raise InvalidInputError(f"{path}: 'blocking' must be a list of columns or lists of columns")
        rules = [[str(c) for c in rule] if isinstance(rule, list) else [str(rule)] for rule in blocking]
    return LinkConfig(
        parse_fields(fields),
        None if data.get("id") is None else str(data["id"]),
        None if threshold is None else float(threshold),
        rules,
    )


# --- normalisation (DuckDB SQL over the raw text column) -------------------------------------------

_ADDRESS_WORDS = {
    "st": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "dr": "drive",
    "ct": "court",
    "pl": "place",
    "cres": "crescent",
    "cr": "crescent",
    "ln": "lane",
    "hwy": "highway",
    "pde": "parade",
    "blvd": "boulevard",
    "tce": "terrace",
    "cl": "close",
    "sq": "square",
    "cct": "circuit",
    "apt": "apartment",
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
}


def _clean(raw: str) -> str:
    """Lower case, accents and punctuation dropped, spaces collapsed; empty → NULL."""
    return "nullif(trim(regexp_replace(lower(strip_accents(" + raw + ")), '[^\\p{L}\\p{N}]+', ' ', 'g')), '')"


def derived_columns(field: Field, raw: str, date_layout: DateLayout | None = None) -> dict[str, str]:
    """Derived column name → DuckDB expression over `raw` (the quoted input column, text)."""
    f = field
    if f.kind in ("text",):
        return {f.col(): _clean(raw)}
    if f.kind == "exact":
        return {f.col(): f"nullif(trim({raw}), '')"}
    if f.kind == "person_name":
        return {
            f.col(): _clean(raw),
            f.col("ph"): f"harvest_phonetic({_clean(raw)})",
            f.col("i1"): f"left({_clean(raw)}, 1)",
        }
    if f.kind == "name":
        return {
            f.col(): f"nullif(harvest_name({raw}), '')",
            f.col("key"): f"nullif(harvest_name_key({raw}), '')",
            f.col("ph"): f"nullif(harvest_phonetic(harvest_name_key({raw})), '')",
            f.col("i1"): f"left(harvest_name_key({raw}), 1)",
        }
    if f.kind == "id":
        return {f.col(): f"nullif(upper(regexp_replace({raw}, '[^\\p{{L}}\\p{{N}}]+', '', 'g')), '')"}
    if f.kind == "postcode":
        s = f"nullif(upper(regexp_replace({raw}, '[\\s-]+', '', 'g')), '')"
        return {
            f.col(): s,
            # the area: all but the last digit of a numeric code, the outward code of a UK-style one
            f.col("area"): f"CASE WHEN regexp_full_match({s}, '[0-9]+') THEN left({s}, length({s}) - 1) "
            f"WHEN length({s}) >= 5 THEN left({s}, length({s}) - 3) ELSE {s} END",
        }
    if f.kind == "address":
        expr = _clean(raw)
        for short, long in _ADDRESS_WORDS.items():
            expr = f"regexp_replace({expr}, '\\b{short}\\b', '{long}', 'g')"
        return {f.col(): expr}
    if f.kind == "email":
        s = f"nullif(lower(trim({raw})), '')"
        return {f.col(): s, f.col("user"): f"nullif(split_part({s}, '@', 1), '')"}
    if f.kind == "phone":
        return {f.col(): f"nullif(right(regexp_replace({raw}, '[^0-9]', '', 'g'), 9), '')"}
    if f.kind == "date":
        layout = date_layout or DATE_LAYOUTS[0]
        canonical = layout.canonical_sql(raw)
        return {f.col(): canonical, f.col("d"): f"try_strptime({canonical}, '%Y%m%d')::DATE"}
    raise AssertionError(f.kind)


@dataclass(frozen=True)
class DateLayout:
    """A way dates are written: a pattern with year, month and day groups, in some order."""

    label: str
    pattern: str
    order: str  # which group is y, m, d, e.g. "ymd"

    def canonical_sql(self, raw: str) -> str:
        """YYYYMMDD (zero-padded, even for impossible dates such as a transposed 1970-25-03, so that
        transpositions and typos stay comparable); other text keeps its digits."""
        parts = {
            part: f"lpad(regexp_extract(trim({raw}), '{self.pattern}', {i + 1}), {4 if part == 'y' else 2}, "
            "'0')"
            for i, part in enumerate(self.order)
        }
        return (
            f"CASE WHEN regexp_full_match(trim({raw}), '{self.pattern}') THEN {parts['y']} || {parts['m']} "
            f"|| {parts['d']} ELSE nullif(regexp_replace({raw}, '[^0-9]', '', 'g'), '') END"
        )


_SEP = "[-/. ]"
DATE_LAYOUTS = (
    DateLayout("YYYY-MM-DD", f"(\\d{{4}}){_SEP}(\\d{{1,2}}){_SEP}(\\d{{1,2}})(?:[ T].*)?", "ymd"),
    DateLayout("YYYYMMDD", "(\\d{4})(\\d{2})(\\d{2})", "ymd"),
    DateLayout("DD/MM/YYYY", f"(\\d{{1,2}}){_SEP}(\\d{{1,2}}){_SEP}(\\d{{4}})", "dmy"),
    DateLayout("MM/DD/YYYY", f"(\\d{{1,2}}){_SEP}(\\d{{1,2}}){_SEP}(\\d{{4}})", "mdy"),
    DateLayout("DDMMYYYY", "(\\d{2})(\\d{2})(\\d{4})", "dmy"),
)


def date_layout_sql(raw: str) -> str:
    """One row: for each layout, how many values it reads as a real date (year 1800-2199)."""
    counts = []
    for layout in DATE_LAYOUTS:
        canonical = layout.canonical_sql(raw)
        counts.append(
            f"count(*) FILTER (WHERE regexp_full_match(trim({raw}), '{layout.pattern}') AND "
            f"try_strptime({canonical}, '%Y%m%d') BETWEEN DATE '1800-01-01' AND DATE '2199-12-31')"
        )
    return ", ".join(counts)


def pick_date_layout(counts: tuple[int, ...]) -> DateLayout:
    # ties go to the earlier layout: day-first before month-first, as most of the world writes dates
    best = max(range(len(DATE_LAYOUTS)), key=lambda i: (counts[i], -i))
    return DATE_LAYOUTS[best]


def describe_types() -> dict[str, str]:
    """One line per type, for `--help` and the README."""
    return {
        "name": "organisation/product names: exact, same words in any order without designators, "
        "Jaro-Winkler >= 0.92 / 0.8",
        "person_name": "exact, Jaro-Winkler >= 0.92, swapped with the other name column, >= 0.88, "
        "same phonetic code, >= 0.7",
        "date": "exact, day and month transposed, one digit off, within a month, within a year",
        "id": "exact, one character off (typo or transposition)",
        "postcode": "exact, one character off, same area (all but the last digit / outward code)",
        "address": "exact (abbreviations expanded: St = Street), Jaro-Winkler >= 0.92 / 0.8",
        "email": "exact, same user name, Jaro-Winkler >= 0.88 on the address / user name",
        "phone": "last nine digits exact, one digit off",
        "text": "exact (case and punctuation folded), Jaro-Winkler >= 0.9 / 0.7",
        "exact": "exact or not",
    }


def as_dict(fields: list[Field], items: list[tuple[str, str | None]] | None = None) -> list[dict[str, Any]]:
    given = dict(items or [])
    return [
        {
            "column": f.column,
            "type": f.kind,
            "name": f.name,
            "guessed": items is not None and given.get(f.column) is None,
        }
        for f in fields
    ]
