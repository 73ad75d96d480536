"""What a search asks for, validated once for every caller (CLI, API, evaluation)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from harvest.errors import InvalidInputError
from harvest.text import check_text

Mode = Literal["vector", "keyword", "hybrid"]
MODES: tuple[Mode, ...] = ("vector", "keyword", "hybrid")
MAX_LIMIT = 100
MAX_WINDOW = 1000  # offset + limit: deeper pages cost more than they are worth
_LABEL = re.compile(r"^[\w.-]{1,100}(=.{1,200})?$")
_PREDICTED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}=.{1,200}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")


@dataclass(frozen=True)
class Filters:
    """Conditions every result must meet; empty lists mean "any"."""

    sources: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    date_from: date | None = None  # published (or else fetched) on or after
    date_to: date | None = None  # … on or before
    labels: tuple[str, ...] = ()  # "key" (present) or "key=value" on the source's labels
    entities: tuple[int, ...] = ()  # documents mentioning each of these entities (or their cluster)
    predicted: tuple[str, ...] = ()  # "MODEL=LABEL": the model's latest prediction for the document has LABEL

    def __post_init__(self) -> None:
        for label in self.labels:
            if not _LABEL.match(check_text(label, "label filter")):
                raise InvalidInputError(f"label filter {label!r} must be KEY or KEY=VALUE")
        for item in self.predicted:
            if not _PREDICTED.match(item):
                raise InvalidInputError(f"predicted-label filter {item!r} must be MODEL=LABEL")
        for language in self.languages:
            if not _LANGUAGE.match(language):
                raise InvalidInputError(f"language filter {language!r} is not a language code such as en")
        for source in self.sources:
            if not source or len(source) > 200:
                raise InvalidInputError(f"source filter {source!r} is not a source name")
            check_text(source, "source filter")
        for entity in self.entities:
            if not 1 <= entity < 2**63:
                raise InvalidInputError(f"entity filter {entity} is not an entity id")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise InvalidInputError(f"date_from {self.date_from} is after date_to {self.date_to}")

    @property
    def label_pairs(self) -> list[tuple[str, str | None]]:
        pairs: list[tuple[str, str | None]] = []
        for label in self.labels:
            key, sep, value = label.partition("=")
            pairs.append((key, value if sep else None))
        return pairs


@dataclass(frozen=True)
class SearchRequest:
    query: str
    mode: Mode = "hybrid"
    limit: int = 10
    offset: int = 0
    filters: Filters = field(default_factory=Filters)
    ef_search: int | None = None
    vector_weight: float | None = None
    keyword_weight: float | None = None
    # a query vector of the active model's dimension: used instead of encoding `query` (callers with
    # their own embeddings); `query` still drives keyword matching and snippets
    vector: tuple[float, ...] | None = None

    def validated(self, max_query_chars: int) -> SearchRequest:
        query = check_text(" ".join(self.query.split()), "the query")
        if not query:
            raise InvalidInputError("the query is empty")
        if len(self.query) > max_query_chars:
            raise InvalidInputError(
                f"the query is {len(self.query)} characters long; the limit is {max_query_chars} "
                "(HARVEST_SEARCH_MAX_QUERY_CHARS)"
            )
        if self.mode not in MODES:
            raise InvalidInputError(f"mode {self.mode!r} is not one of {', '.join(MODES)}")
        check_page(self.limit, self.offset)
        if self.ef_search is not None and not 1 <= self.ef_search <= 1000:
            raise InvalidInputError("ef_search must be between 1 and 1000")
        for name, weight in (("vector_weight", self.vector_weight), ("keyword_weight", self.keyword_weight)):
            if weight is not None and not 0 <= weight <= 100:
                raise InvalidInputError(f"{name} must be between 0 and 100")
        if self.vector is not None and (
            not self.vector or not all(math.isfinite(x) for x in self.vector) or not any(self.vector)
        ):
            raise InvalidInputError("vector must be a non-zero list of finite numbers")
        return replace(self, query=query)


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if offset < 0:
        raise InvalidInputError(f"offset must be 0 or more, not {offset}")
    if offset + limit > MAX_WINDOW:
        raise InvalidInputError(f"offset + limit must be at most {MAX_WINDOW}")
