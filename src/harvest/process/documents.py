"""Reading documents back: lists and one document with its versions, chunks and duplicate links."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, func, select
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


@dataclass(frozen=True)
class DocumentFilters:
    """Which documents a list shows: by source, language, date (published, else fetched) and source label
    (`key` present or `key=value`)."""

    source: str | None = None
    languages: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    labels: tuple[str, ...] = ()

    def where(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.source is not None:
            conditions.append(Source.name == self.source)
        if self.languages:
            conditions.append(Document.language.in_(self.languages))
        when = func.coalesce(Document.published_at, Document.created_at)
        if self.date_from is not None:
            conditions.append(when >= datetime.combine(self.date_from, time.min, UTC))
        if self.date_to is not None:
            conditions.append(when < datetime.combine(self.date_to + timedelta(days=1), time.min, UTC))
        for label in self.labels:
            key, has_value, value = label.partition("=")
            conditions.append(Source.labels[key].astext == value if has_value else Source.labels.has_key(key))
        return conditions


def list_documents(
    engine: Engine,
    *,
    source: str | None = None,
    limit: int = 50,
    offset: int = 0,
    filters: DocumentFilters | None = None,
) -> list[DocumentSummary]:
    filters = filters or DocumentFilters(source=source)
    chunk_count = (
        select(func.count()).select_from(Chunk).where(Chunk.document_id == Document.id).scalar_subquery()
    )
    query = (
        select(Document, Source.name, chunk_count)
        .join(Source, Source.id == Document.source_id)
        .where(*filters.where())
        .order_by(Document.id)
        .limit(limit)
        .offset(offset)
    )
    with Session(engine) as session:
        return [
            DocumentSummary(d.id, name, d.url, d.title, d.language, int(n), d.duplicate_of_id, d.skip_reason)
            for d, name, n in session.execute(query).all()
        ]


def count_documents(
    engine: Engine, filters: DocumentFilters | None = None, *, source: str | None = None
) -> int:
    filters = filters or DocumentFilters(source=source)
    query = (
        select(func.count())
        .select_from(Document)
        .join(Source, Source.id == Document.source_id)
        .where(*filters.where())
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def document_languages(engine: Engine) -> list[tuple[str, int]]:
    """The languages documents are in, most documents first (the UI's language filter)."""
    query = (
        select(Document.language, func.count())
        .where(Document.language.is_not(None))
        .group_by(Document.language)
        .order_by(func.count().desc(), Document.language)
    )
    with engine.connect() as conn:
        return [(str(language), int(n)) for language, n in conn.execute(query).all()]


def get_document_version(engine: Engine, document_id: int, page_version: int) -> dict[str, Any]:
    """The text a document had when one page version was processed (to compare two versions)."""
    with Session(engine) as session:
        version = session.scalar(
            select(DocumentVersion).where(
                DocumentVersion.document_id == document_id, DocumentVersion.page_version == page_version
            )
        )
        if version is None:
            if session.get(Document, document_id) is None:
                raise NotFoundError(f"no document {document_id}", hint="see `harvest documents list`")
            raise NotFoundError(f"document {document_id} has no processed page version {page_version}")
        return {
            "page_version": version.page_version,
            "title": version.title,
            "text": version.text,
            "text_hash": version.text_hash,
            "skip_reason": version.skip_reason,
            "processed_at": version.created_at.isoformat(),
        }


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
