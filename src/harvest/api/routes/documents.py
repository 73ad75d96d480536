"""/api/documents: list, one document, its versions, its chunks, and similar documents."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from harvest.api.auth import require_read, settings_of
from harvest.api.routes.search import results_json, searcher_of
from harvest.api.schemas import DocumentList, DocumentSummary, SearchResponse
from harvest.crawl.sources import source_id
from harvest.db.engine import get_engine
from harvest.process.documents import document_json, get_document, list_documents
from harvest.search.request import Filters

router = APIRouter(prefix="/api/documents", tags=["documents"], dependencies=[Depends(require_read)])
DocumentId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=DocumentList)
def documents(
    request: Request,
    source: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DocumentList:
    engine = get_engine(settings_of(request))
    if source is not None:
        source_id(engine, source)  # unknown source: 404, not an empty list
    rows = list_documents(engine, source=source, limit=limit + 1, offset=offset)
    return DocumentList(
        documents=[DocumentSummary.model_validate(asdict(row)) for row in rows[:limit]],
        limit=limit,
        offset=offset,
        next_offset=offset + limit if len(rows) > limit else None,
    )


def _document(request: Request, document_id: int) -> dict[str, Any]:
    return document_json(get_document(get_engine(settings_of(request)), document_id))


@router.get("/{document_id}")
def document(request: Request, document_id: DocumentId) -> dict[str, Any]:
    """The document: text, metadata, duplicate links and versions (chunks: /chunks)."""
    data = _document(request, document_id)
    data.pop("chunks")
    return data


@router.get("/{document_id}/versions")
def versions(request: Request, document_id: DocumentId) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = _document(request, document_id)["versions"]
    return versions


@router.get("/{document_id}/chunks")
def chunks(request: Request, document_id: DocumentId) -> list[dict[str, Any]]:
    chunks: list[dict[str, Any]] = _document(request, document_id)["chunks"]
    return chunks


@router.get("/{document_id}/similar", response_model=SearchResponse)
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
