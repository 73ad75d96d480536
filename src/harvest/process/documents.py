"""Reading documents back: lists and one document with its versions, chunks and duplicate links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from harvest.db.models import Chunk, Document, DocumentVersion, Source
from harvest.errors import NotFoundError


@dataclass(frozen=True)
class DocumentSummary:
    id: int
    source: str
    url: str
    title: str | None
    language: str | None
    chunks: int
    duplicate_of: int | None
    skip_reason: str | None


@dataclass(frozen=True)
class DocumentDetail:
    document: Document
    source: str
    versions: list[tuple[int, str | None, datetime]]
    chunks: list[Chunk]
    duplicates: list[int]


def list_documents(
    engine: Engine, *, source: str | None = None, limit: int = 50, offset: int = 0
) -> list[DocumentSummary]:
    chunk_count = (
        select(func.count()).select_from(Chunk).where(Chunk.document_id == Document.id).scalar_subquery()
    )
    query = (
        select(Document, Source.name, chunk_count)
        .join(Source, Source.id == Document.source_id)
        .order_by(Document.id)
        .limit(limit)
        .offset(offset)
    )
    if source is not None:
        query = query.where(Source.name == source)
    with Session(engine) as session:
        return [
            DocumentSummary(d.id, name, d.url, d.title, d.language, int(n), d.duplicate_of_id, d.skip_reason)
            for d, name, n in session.execute(query).all()
        ]


def count_documents(engine: Engine, *, source: str | None = None) -> int:
    query = select(func.count()).select_from(Document)
    if source is not None:
        query = query.join(Source, Source.id == Document.source_id).where(Source.name == source)
    with Session(engine) as session:
        return int(session.execute(query).scalar_one())


def get_document(engine: Engine, document_id: int) -> DocumentDetail:
    with Session(engine, expire_on_commit=False) as session:
        row = session.execute(
            select(Document, Source.name)
            .join(Source, Source.id == Document.source_id)
            .where(Document.id == document_id)
        ).first()
        if row is None:
            raise NotFoundError(f"no document {document_id}", hint="see `harvest documents list`")
        document, source = row
        versions = [
            (v.page_version, v.text_hash, v.created_at)
            for v in session.scalars(
                select(DocumentVersion)
                .where(DocumentVersion.document_id == document_id)
                .order_by(DocumentVersion.page_version)
            )
        ]
        chunks = list(
            session.scalars(select(Chunk).where(Chunk.document_id == document_id).order_by(Chunk.ordinal))
        )
        duplicates = list(session.scalars(select(Document.id).where(Document.duplicate_of_id == document_id)))
        session.expunge_all()
        return DocumentDetail(document, source, versions, chunks, duplicates)


def document_json(detail: DocumentDetail) -> dict[str, Any]:
    d = detail.document
    return {
        "id": d.id,
        "source": detail.source,
        "url": d.url,
        "page_version": d.page_version,
        "title": d.title,
        "author": d.author,
        "description": d.description,
        "published_at": d.published_at.isoformat() if d.published_at else None,
        "language": d.language,
        "fields": d.fields,
        "meta": d.meta,
        "duplicate_of": d.duplicate_of_id,
        "duplicates": detail.duplicates,
        "skip_reason": d.skip_reason,
        "text": d.text,
        "versions": [
            {"page_version": v, "text_hash": h, "processed_at": t.isoformat()} for v, h, t in detail.versions
        ],
        "chunks": [
            {"id": c.id, "ordinal": c.ordinal, "heading": c.heading, "tokens": c.token_count, "text": c.text}
            for c in detail.chunks
        ],
    }
