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
    limit: int
    offset: int
    next_offset: int | None


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


class Health(BaseModel):
    status: str
    version: str
    database: str
    active_model: str | None
    counts: dict[str, int]
    stores: list[dict[str, Any]]
