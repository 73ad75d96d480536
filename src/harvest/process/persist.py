"""Writes one processed page version: its document (+ history), duplicate links, LSH bands and chunks.

Everything for a batch happens in the caller's transaction, so a crash loses or duplicates nothing:
work is "pages whose latest version is newer than their document's", recomputed on every run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from harvest.db.models import Chunk, Document, DocumentBand, DocumentVersion
from harvest.process.chunking import ChunkDraft
from harvest.process.dedup import Fingerprint, band_hashes, signature_from_bytes, similarity
from harvest.process.extract import Extraction, Skipped


def save_document(
    conn: Connection,
    *,
    page_id: int,
    source_id: int,
    url: str,
    page_version: int,
    result: Extraction | Skipped,
    fingerprint: Fingerprint | None,
) -> int:
    """Insert or update the page's document; returns its id. The text of each version is kept."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "page_id": page_id,
        "source_id": source_id,
        "url": url,
        "page_version": page_version,
        "processed_at": now,
        "duplicate_of_id": None,
    }
    if isinstance(result, Skipped):
        values |= {
            "title": None,
            "author": None,
            "description": None,
            "published_at": None,
            "language": None,
            "text": "",
            "text_hash": None,
            "fields": {},
            "meta": {},
            "minhash": None,
            "skip_reason": result.reason,
        }
    else:
        assert fingerprint is not None
        values |= {
            "title": result.title,
            "author": result.author,
            "description": result.description,
            "published_at": result.published_at,
            "language": result.language,
            "text": result.text,
            "text_hash": fingerprint.text_hash,
            "fields": result.fields,
            "meta": result.meta,
            "minhash": fingerprint.signature_bytes,
            "skip_reason": None,
        }
    statement = insert(Document).values(values)
    upsert = statement.on_conflict_do_update(
        index_elements=[Document.page_id],
        set_={k: statement.excluded[k] for k in values if k != "page_id"},
    ).returning(Document.id)
    document_id = int(conn.execute(upsert).scalar_one())
    history = insert(DocumentVersion).values(
        document_id=document_id,
        page_version=page_version,
        title=values["title"],
        text=values["text"],
        text_hash=values["text_hash"],
        skip_reason=values["skip_reason"],
    )
    conn.execute(history.on_conflict_do_nothing())
    return document_id


def find_canonical(
    conn: Connection, document_id: int, fingerprint: Fingerprint, threshold: float
) -> tuple[int, str] | None:
    """(canonical document id, "exact" | "near") when this text duplicates an earlier document."""
    exact = conn.execute(
        select(Document.id)
        .where(
            Document.text_hash == fingerprint.text_hash,
            Document.id != document_id,
            Document.duplicate_of_id.is_(None),
            Document.skip_reason.is_(None),
        )
        .order_by(Document.id)
        .limit(1)
    ).scalar()
    if exact is not None:
        return int(exact), "exact"
    if fingerprint.signature is None:
        return None
    bands = band_hashes(fingerprint.signature, threshold)
    candidates = conn.execute(
        select(Document.id, Document.minhash)
        .join(DocumentBand, DocumentBand.document_id == Document.id)
        .where(
            tuple_(DocumentBand.band, DocumentBand.band_hash).in_(bands),
            Document.id != document_id,
            Document.duplicate_of_id.is_(None),
        )
        .distinct()
    ).all()
    best: tuple[float, int] | None = None
    for candidate_id, minhash in candidates:
        if minhash is None:
            continue
        score = similarity(fingerprint.signature, signature_from_bytes(minhash))
        if score >= threshold and (best is None or (score, -candidate_id) > (best[0], -best[1])):
            best = (score, candidate_id)
    return None if best is None else (best[1], "near")


def mark_duplicate(conn: Connection, document_id: int, canonical_id: int, kind: str) -> None:
    """A duplicate points at its canonical document and owns no chunks and no bands."""
    conn.execute(
        update(Document)
        .where(Document.id == document_id)
        .values(duplicate_of_id=canonical_id, meta=Document.meta.op("||")({"duplicate": kind}))
    )
    conn.execute(delete(Chunk).where(Chunk.document_id == document_id))
    conn.execute(delete(DocumentBand).where(DocumentBand.document_id == document_id))


def index_bands(conn: Connection, document_id: int, fingerprint: Fingerprint, threshold: float) -> None:
    conn.execute(delete(DocumentBand).where(DocumentBand.document_id == document_id))
    if fingerprint.signature is None:
        return
    rows = [
        {"band": band, "band_hash": value, "document_id": document_id}
        for band, value in band_hashes(fingerprint.signature, threshold)
    ]
    conn.execute(insert(DocumentBand).values(rows).on_conflict_do_nothing())


def replace_chunks(conn: Connection, document_id: int, drafts: list[ChunkDraft]) -> tuple[int, int]:
    """Keep chunks whose id survives, delete the rest, add the new; returns (added, removed)."""
    new_ids = [draft.id for draft in drafts]
    removed = conn.execute(
        delete(Chunk).where(Chunk.document_id == document_id, Chunk.id.not_in(new_ids)).returning(Chunk.id)
    ).all()
    if not drafts:
        return 0, len(removed)
    existing = set(conn.execute(select(Chunk.id).where(Chunk.id.in_(new_ids))).scalars())
    rows = [
        {
            "id": d.id,
            "document_id": document_id,
            "ordinal": d.ordinal,
            "text": d.text,
            "token_count": d.token_count,
            "heading": d.heading,
        }
        for d in drafts
    ]
    statement = insert(Chunk).values(rows)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[Chunk.id],
            set_={"ordinal": statement.excluded.ordinal},
            where=Chunk.ordinal != statement.excluded.ordinal,
        )
    )
    return len(set(new_ids) - existing), len(removed)


def clear_chunks(conn: Connection, document_id: int) -> None:
    conn.execute(delete(Chunk).where(Chunk.document_id == document_id))
    conn.execute(delete(DocumentBand).where(DocumentBand.document_id == document_id))
