"""/api/documents: list, one document, its versions, its chunks, and similar documents."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from harvest.api.auth import require_read, settings_of
from harvest.api.routes.search import results_json, searcher_of
from harvest.api.schemas import (
    ChunkView,
    DocumentDetail,
    DocumentList,
    DocumentMention,
    DocumentSummary,
    DocumentVersionText,
    LanguageCount,
    SearchResponse,
    VersionInfo,
)
from harvest.crawl.sources import source_id
from harvest.db.engine import get_engine
from harvest.entities.facets import mentions_in_document
from harvest.process.documents import (
    DocumentFilters,
    count_documents,
    document_json,
    document_languages,
    get_document,
    get_document_version,
    list_documents,
)
from harvest.search.request import Filters

router = APIRouter(prefix="/api/documents", tags=["documents"], dependencies=[Depends(require_read)])
DocumentId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", response_model=DocumentList)
def documents(
    request: Request,
    source: Annotated[str | None, Query(max_length=200)] = None,
    language: Annotated[list[str] | None, Query(description="only these languages (en, de, …)")] = None,
    date_from: Annotated[date | None, Query(description="published (else fetched) on or after")] = None,
    date_to: Annotated[date | None, Query(description="published (else fetched) on or before")] = None,
    label: Annotated[list[str] | None, Query(description="source label KEY or KEY=VALUE")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> DocumentList:
    engine = get_engine(settings_of(request))
    if source is not None:
        source_id(engine, source)  # unknown source: 404, not an empty list
    filters = DocumentFilters(
        source=source,
        languages=tuple(language or ()),
        date_from=date_from,
        date_to=date_to,
        labels=tuple(label or ()),
    )
    rows = list_documents(engine, limit=limit + 1, offset=offset, filters=filters)
    return DocumentList(
        documents=[DocumentSummary.model_validate(asdict(row)) for row in rows[:limit]],
        total=count_documents(engine, filters),
        limit=limit,
        offset=offset,
        next_offset=offset + limit if len(rows) > limit else None,
    )


@router.get("/languages", response_model=list[LanguageCount])
def languages(request: Request) -> list[LanguageCount]:
    """The languages of the stored documents, most documents first."""
    return [
        LanguageCount(language=language, documents=n)
        for language, n in document_languages(get_engine(settings_of(request)))
    ]


def _document(request: Request, document_id: int) -> dict[str, Any]:
    return document_json(get_document(get_engine(settings_of(request)), document_id))


@router.get("/{document_id}", response_model=DocumentDetail)
def document(request: Request, document_id: DocumentId) -> dict[str, Any]:
    """The document: text, metadata, duplicate links and versions (chunks: /chunks)."""
    data = _document(request, document_id)
    data.pop("chunks")
    return data


@router.get("/{document_id}/versions", response_model=list[VersionInfo])
def versions(request: Request, document_id: DocumentId) -> list[dict[str, Any]]:
    versions: list[dict[str, Any]] = _document(request, document_id)["versions"]
    return versions


@router.get("/{document_id}/versions/{page_version}", response_model=DocumentVersionText)
def version(
    request: Request, document_id: DocumentId, page_version: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> DocumentVersionText:
    """The text the document had at one processed page version (compare two to see what changed)."""
    found = get_document_version(get_engine(settings_of(request)), document_id, page_version)
    return DocumentVersionText.model_validate(found)


@router.get("/{document_id}/mentions", response_model=list[DocumentMention])
def mentions(request: Request, document_id: DocumentId) -> list[DocumentMention]:
    """Entity mentions in the document's chunks (offsets inside each chunk), with their entity."""
    engine = get_engine(settings_of(request))
    get_document(engine, document_id)  # 404 for an unknown document, not an empty list
    return [
        DocumentMention.model_validate(row) for row in mentions_in_document(settings_of(request), document_id)
    ]


@router.get("/{document_id}/chunks", response_model=list[ChunkView])
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
