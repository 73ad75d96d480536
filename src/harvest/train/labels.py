"""Label rules: where a dataset's labels come from, and how one document's labels are read.

A rule is one of: a key of the source's labels (`source_label`), a regular expression over the URL with a
named group `label` (`url`), a structured extraction field (`field`), the presence of entity types
(`entity`), or labels the user imported from CSV/JSONL (`import`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from harvest.errors import InvalidInputError

KINDS = ("source_label", "url", "field", "entity", "import")
MAX_LABEL_CHARS = 200


@dataclass(frozen=True)
class LabelRule:
    kind: str
    key: str | None = None  # source label key, or extraction field name
    pattern: str | None = None  # url rule
    types: tuple[str, ...] = field(default_factory=tuple)  # entity rule

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.key is not None:
            data["key"] = self.key
        if self.pattern is not None:
            data["pattern"] = self.pattern
        if self.types:
            data["types"] = list(self.types)
        return data

    def describe(self) -> str:
        if self.kind == "url":
            return f"URL pattern {self.pattern!r}"
        if self.kind == "source_label":
            return f"source label {self.key!r}"
        if self.kind == "field":
            return f"extraction field {self.key!r}"
        if self.kind == "entity":
            return f"entity types {', '.join(self.types)}"
        return "imported labels"


def parse_rule(data: dict[str, Any]) -> LabelRule:
    """A validated rule from its JSON form (as stored in a dataset's definition)."""
    kind = data.get("kind") if isinstance(data, dict) else None
    if not isinstance(kind, str) or kind not in KINDS:
        raise InvalidInputError(f"label rule kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "url":
        pattern = str(data.get("pattern") or "")
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            raise InvalidInputError(
                f"URL label pattern {pattern!r} is not a regular expression: {error}"
            ) from None
        if "label" not in compiled.groupindex:
            raise InvalidInputError(
                f"URL label pattern {pattern!r} needs a named group `label`, e.g. '/docs/(?P<label>[^/]+)/'"
            )
        return LabelRule("url", pattern=pattern)
    if kind in ("source_label", "field"):
        key = str(data.get("key") or "").strip()
        if not key or len(key) > 100:
            raise InvalidInputError(f"a {kind} label rule needs a key name (1-100 characters)")
        return LabelRule(kind, key=key)
    if kind == "entity":
        raw = data.get("types") or ()
        if isinstance(raw, str) or not isinstance(raw, list | tuple):
            raise InvalidInputError("an entity label rule's `types` is a list of entity types")
        types = tuple(sorted({str(t).strip() for t in raw if str(t).strip()}))
        if not types:
            raise InvalidInputError("an entity label rule needs at least one entity type")
        return LabelRule("entity", types=types)
    return LabelRule("import")


@dataclass(frozen=True)
class DocumentFacts:
    """What a rule may look at for one document."""

    url: str
    fields: dict[str, Any]
    source_labels: dict[str, Any]
    entity_types: tuple[str, ...]
    imported: tuple[str, ...]


class Labeler:
    """Applies a rule for a task; `labels` returns [] when the document has no label (it is left out)."""

    def __init__(self, rule: LabelRule, task: str) -> None:
        self.rule = rule
        self.task = task
        self._pattern = re.compile(rule.pattern) if rule.pattern else None
        if rule.kind == "entity" and task == "classify" and len(rule.types) != 1:
            raise InvalidInputError(
                "a classify dataset with an entity rule takes exactly one entity type "
                "(labels TYPE / not-TYPE); use --task multilabel for several"
            )

    def labels(self, facts: DocumentFacts) -> list[str]:
        found = self._raw(facts)
        return sorted({_clean(value) for value in found if _clean(value)})

    def _raw(self, facts: DocumentFacts) -> list[str]:
        rule = self.rule
        if rule.kind == "url":
            assert self._pattern is not None
            match = self._pattern.search(facts.url)
            value = match.group("label") if match else None
            return [value] if value else []
        if rule.kind == "source_label":
            return _values(facts.source_labels.get(rule.key or ""))
        if rule.kind == "field":
            return _values(facts.fields.get(rule.key or ""))
        if rule.kind == "entity":
            present = [t for t in rule.types if t in facts.entity_types]
            if self.task == "classify":
                return present or [f"not-{rule.types[0]}"]
            return present or [""]  # multilabel: a document with none of the types is a negative example
        return list(facts.imported)

    @property
    def keeps_empty(self) -> bool:
        """Multilabel entity datasets keep documents without any of the types (all-negative rows)."""
        return self.rule.kind == "entity" and self.task == "multilabel"


def _values(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None and str(v) != ""]
    return [str(value)]


def _clean(value: str) -> str:
    return " ".join(value.split())[:MAX_LABEL_CHARS]
