"""/api/documents: list, one document, its versions, its chunks, and similar documents."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from harvest.api.auth import require_read, settings_of
from harvest.api.limits import rate_limit
from harvest.api.routes.search import results_json, searcher_of
from harvest.api.schemas import (
    ChunkOut,
    DocumentOut,
    DocumentSummary,
    DocumentVersion,
    Page,
    SearchResponse,
    page_from,
    page_of,
)
from harvest.crawl.sources import source_id
from harvest.db.engine import get_engine
from harvest.process.documents import count_documents, document_json, get_document, list_documents
from harvest.search.request import Filters

router = APIRouter(prefix="/api/documents", tags=["documents"], dependencies=[Depends(require_read)])
DocumentId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10_000_000)]


@router.get("", response_model=Page[DocumentSummary])
def documents(
    request: Request,
    source: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[DocumentSummary]:
    engine = get_engine(settings_of(request))
    if source is not None:
        source_id(engine, source)  # unknown source: 404, not an empty list
    return page_from(
        lambda n, skip: [
            DocumentSummary.model_validate(asdict(row))
            for row in list_documents(engine, source=source, limit=n, offset=skip)
        ],
        limit=limit,
        offset=offset,
        total=count_documents(engine, source=source),
    )


def _document(request: Request, document_id: int) -> dict[str, Any]:
    return document_json(get_document(get_engine(settings_of(request)), document_id))


@router.get("/{document_id}", response_model=DocumentOut)
def document(request: Request, document_id: DocumentId) -> DocumentOut:
    """The document: text, metadata, duplicate links and versions (chunks: /chunks)."""
    data = _document(request, document_id)
    data.pop("chunks")
    return DocumentOut.model_validate(data)


@router.get("/{document_id}/versions", response_model=Page[DocumentVersion])
def versions(
    request: Request, document_id: DocumentId, limit: Limit = 100, offset: Offset = 0
) -> Page[DocumentVersion]:
    """The texts this document had, one per processed page version (oldest first)."""
    every = [DocumentVersion.model_validate(v) for v in _document(request, document_id)["versions"]]
    return page_of(every[offset : offset + limit], limit=limit, offset=offset, total=len(every))


@router.get("/{document_id}/chunks", response_model=Page[ChunkOut])
def chunks(
    request: Request, document_id: DocumentId, limit: Limit = 100, offset: Offset = 0
) -> Page[ChunkOut]:
    """The document's chunks in reading order."""
    every = [ChunkOut.model_validate(c) for c in _document(request, document_id)["chunks"]]
    return page_of(every[offset : offset + limit], limit=limit, offset=offset, total=len(every))


@router.get(
    "/{document_id}/similar", response_model=SearchResponse, dependencies=[Depends(rate_limit("search"))]
)
def similar(
    request: Request,
    document_id: DocumentId,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=899)] = 0,
    source: Annotated[list[str] | None, Query()] = None,
) -> SearchResponse:
    """Documents closest in meaning to this one ("more like this")."""
    found = searcher_of(request).similar(
        document_id, limit=limit, offset=offset, filters=Filters(sources=tuple(source or ()))
    )
    return results_json(found)
