"""Response shapes of the API (they are its OpenAPI contract and what the UI reads)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from harvest.crawl.spec import SourceSpec

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """The one envelope of every collection the API lists: the items of this page, the total when it is
    cheap to count (else null), and the offset of the next page (null on the last one)."""

    items: list[T]
    total: int | None
    limit: int
    offset: int
    next_offset: int | None


def page_of(
    items: Sequence[T], *, limit: int, offset: int, total: int | None = None, more: bool | None = None
) -> Page[T]:
    """A page from `items`, which may hold one item past `limit` to tell that a next page exists (when
    neither `total` nor `more` says so)."""
    if more is None:
        more = offset + limit < total if total is not None else len(items) > limit
    return Page[T](
        items=list(items[:limit]),
        total=total,
        limit=limit,
        offset=offset,
        next_offset=offset + limit if more else None,
    )


def page_from(
    fetch: Callable[[int, int], Sequence[T]], *, limit: int, offset: int, total: int | None = None
) -> Page[T]:
    """Fetch one row past the page (`fetch(limit, offset)` gets limit + 1) so next_offset is exact."""
    return page_of(fetch(limit + 1, offset), limit=limit, offset=offset, total=total)


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class Hit(BaseModel):
    document_id: int
    chunk_id: str
    score: float
    title: str | None
    url: str
    source: str
    language: str | None
    heading: str | None
    snippet: str
    published_at: datetime | None
    fetched_at: datetime | None
    ranks: dict[str, int]


class SearchResponse(Page[Hit]):
    """A page of hits (one per document, best first) and how the search ran. `total` is null: a
    ranked search does not count every match."""

    query: str | None
    mode: str
    model: str | None
    took_ms: float
    warnings: list[str]


class DocumentSummary(BaseModel):
    id: int
    source: str
    url: str
    title: str | None
    language: str | None
    chunks: int
    duplicate_of: int | None
    skip_reason: str | None


class DocumentVersion(BaseModel):
    page_version: int
    text_hash: str | None
    processed_at: datetime


class ChunkOut(BaseModel):
    id: str
    ordinal: int
    heading: str | None
    tokens: int
    text: str


class DocumentOut(BaseModel):
    """A document: its text, metadata, duplicate links and versions (chunks: /chunks)."""

    id: int
    source: str
    url: str
    page_version: int
    title: str | None
    author: str | None
    description: str | None
    published_at: datetime | None
    language: str | None
    fields: dict[str, Any] | None
    meta: dict[str, Any] | None
    duplicate_of: int | None
    duplicates: list[int]
    skip_reason: str | None
    text: str | None
    versions: list[DocumentVersion]


class Run(BaseModel):
    id: int
    source: str
    status: str
    started_at: datetime | None
    finished_at: datetime | None
    elapsed_s: float
    counts: dict[str, int]
    message: str | None
    errors: list[dict[str, str]]
    # links not followed because of a crawl limit: {kind: {"count", "limit", "example"}}
    limits: dict[str, dict[str, Any]] = {}


class CrawlStarted(BaseModel):
    run_id: int
    source: str
    status: str


class PipelineStage(BaseModel):
    stage: str
    status: str
    attempts: int
    elapsed_s: float
    counts: dict[str, Any]
    message: str | None


class Pipeline(BaseModel):
    id: int
    source: str
    status: str
    trigger: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    message: str | None
    stages: list[PipelineStage]


class EntitySummary(BaseModel):
    """An entity cluster (its id is the cluster's): name, aliases, mention counts; `score` is the name
    similarity when the entity was found by a lookup."""

    id: int
    type: str
    name: str
    cluster_id: int
    aliases: list[str]
    attributes: dict[str, Any]
    members: list[int]
    mentions: int
    documents: int
    score: float | None = None


class RelatedEntity(BaseModel):
    id: int
    name: str
    type: str
    chunks: int
    documents: int


class EntityOut(EntitySummary):
    """The entity's cluster with related entities and the mention trend per month."""

    related: list[RelatedEntity]
    trend: list[dict[str, Any]]


class Mention(BaseModel):
    document_id: int
    chunk_id: str
    start: int
    end: int
    surface: str
    score: float
    ambiguous: bool
    url: str
    title: str | None


class SplitResult(BaseModel):
    first: EntityOut
    second: EntityOut


class Health(BaseModel):
    status: str
    version: str
    ready: bool = Field(description="the API answers searches at full speed (the query model is loaded)")
    model_loaded: bool = Field(description="the active embedding model is loaded for queries")
    database: str | None = Field(description="where the database is (only with a valid token)")
    instance: str | None = Field(
        description="which database the API serves, as settings name it (only with a valid token)"
    )
    active_model: str | None
    counts: dict[str, int]
    estimated: list[str] = Field(
        description="names in `counts` that are planner estimates (tables too large to count quickly)"
    )
    stores: list[dict[str, Any]]
    # status (ok | failed | running | never | stale), schedule, the last run and the last success
    backup: dict[str, Any] | None = None


# A source as the API reads and writes it: the fields of `sources.yaml` / `harvest source add`.
SourceOut = SourceSpec


class SourceSaved(SourceSpec):
    """A source as stored by POST/PATCH, with `warnings`: start or sitemap URLs the crawler will refuse
    (non-public addresses) or cannot resolve from here."""

    warnings: list[str] = Field(default_factory=list)


# PATCH /api/sources/{name}: any of the fields but the name; the merged result must validate as a whole.
_CHANGE_FIELDS: dict[str, Any] = {
    name: (field.annotation | None, Field(None, description=field.description))  # type: ignore[operator]
    for name, field in SourceSpec.model_fields.items()
    if name != "name"
}
SourceChanges: type[BaseModel] = create_model(
    "SourceChanges",
    __config__=ConfigDict(extra="forbid"),
    __doc__="Fields to change (lists replace the whole list; null resets a field to its default).",
    **_CHANGE_FIELDS,
)
