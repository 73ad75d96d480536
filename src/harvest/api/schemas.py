"""Response shapes of the API (they are its OpenAPI contract and what the UI reads)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """The one envelope of every collection the API lists: the items of this page, the total when it is
    cheap to count (else null), and the offset of the next page (null on the last one)."""

    items: list[T]
    total: int | None
    limit: int
    offset: int
    next_offset: int | None


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None  # the input at fault (e.g. `start_urls.0`), when the error is about one


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


class SearchResponse(BaseModel):
    query: str | None
    mode: str
    model: str | None
    hits: list[Hit]
    limit: int
    offset: int
    next_offset: int | None
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


class DocumentList(BaseModel):
    documents: list[DocumentSummary]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class LanguageCount(BaseModel):
    language: str
    documents: int


class DocumentVersionText(BaseModel):
    page_version: int
    title: str | None
    text: str
    text_hash: str | None
    skip_reason: str | None
    processed_at: datetime


class DocumentMention(BaseModel):
    chunk_id: str
    start: int
    end: int
    surface: str
    score: float
    entity_id: int  # the cluster (what /api/entities/{id} shows)
    name: str
    type: str


class EntityFacet(BaseModel):
    entity_id: int
    name: str
    type: str
    documents: int
    mentions: int


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


class CrawlStarted(BaseModel):
    run_id: int
    source: str
    status: str


class Health(BaseModel):
    status: str
    version: str
    database: str
    active_model: str | None
    counts: dict[str, int]
    stores: list[dict[str, Any]]


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


class VersionInfo(BaseModel):
    page_version: int
    text_hash: str | None
    processed_at: datetime


class DocumentDetail(BaseModel):
    id: int
    source: str
    url: str
    page_version: int
    title: str | None
    author: str | None
    description: str | None
    published_at: datetime | None
    language: str | None
    fields: dict[str, Any]
    meta: dict[str, Any]
    duplicate_of: int | None
    duplicates: list[int]
    skip_reason: str | None
    text: str
    versions: list[VersionInfo]


class ChunkView(BaseModel):
    id: str
    ordinal: int
    heading: str | None
    tokens: int
    text: str


class RelatedEntity(BaseModel):
    id: int
    name: str
    type: str
    chunks: int
    documents: int


class TrendPoint(BaseModel):
    month: str
    mentions: int
    documents: int


class EntityView(BaseModel):
    id: int
    type: str
    name: str
    cluster_id: int
    aliases: list[str]
    attributes: dict[str, Any]
    members: list[int]
    mentions: int
    documents: int
    related: list[RelatedEntity]
    trend: list[TrendPoint]
    score: float | None


class EntityMention(BaseModel):
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
    first: EntityView
    second: EntityView
