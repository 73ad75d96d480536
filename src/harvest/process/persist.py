"""Writes a batch of processed page versions: documents (+ history), duplicate links, LSH bands, chunks.

Everything happens in the caller's transaction and in a few set-based statements per batch (not per
document). A crash loses or duplicates nothing: work is "pages whose latest version is newer than their
document's", recomputed on every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, bindparam, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert

from harvest.db.models import Chunk, Document, DocumentBand, DocumentVersion
from harvest.process.chunking import ChunkDraft
from harvest.process.dedup import Fingerprint, band_hashes, signature_from_bytes, similarity
from harvest.process.extract import Extraction, Skipped
from harvest.search.text_config import text_config

# Raised when extraction or chunking changes what a page becomes: documents made by an older version
# are processed again (re-extracted, re-chunked; the embed stage then embeds only the new chunks).
# 2: structured extraction, metadata-only dates, chunks packed by section with title and heading path.
# 3: chunks packed to 320 tokens instead of 250 (fewer, fuller chunks; the model reads them whole).
PROCESSOR_VERSION = 3


@dataclass
class Processed:
    """One page version on its way into the database."""

    page_id: int
    source_id: int
    url: str
    page_version: int
    result: Extraction | Skipped
    fingerprint: Fingerprint | None = None
    document_id: int = 0
    duplicate_of: tuple[int, str] | None = None  # (canonical id, "exact" | "near")


def save_documents(conn: Connection, batch: list[Processed]) -> None:
    """Upsert every document of the batch (setting `document_id`) and record each version's text."""
    now = datetime.now(UTC)
    rows = [_document_row(item, now) for item in batch]
    statement = insert(Document)
    upsert = statement.on_conflict_do_update(
        index_elements=[Document.page_id],
        set_={k: statement.excluded[k] for k in rows[0] if k != "page_id"},
    ).returning(Document.id, sort_by_parameter_order=True)
    ids = conn.execute(upsert, rows).scalars().all()
    for item, document_id in zip(batch, ids, strict=True):
        item.document_id = int(document_id)
    versions = insert(DocumentVersion)
    conn.execute(
        # a version processed again (forced, after new rules) keeps the text it has now
        versions.on_conflict_do_update(
            index_elements=[DocumentVersion.document_id, DocumentVersion.page_version],
            set_={k: versions.excluded[k] for k in ("title", "text", "text_hash", "skip_reason")},
        ),
        [
            {
                "document_id": item.document_id,
                "page_version": item.page_version,
                "title": row["title"],
                "text": row["text"],
                "text_hash": row["text_hash"],
                "skip_reason": row["skip_reason"],
            }
            for item, row in zip(batch, rows, strict=True)
        ],
    )


def _document_row(item: Processed, now: datetime) -> dict[str, Any]:
    row: dict[str, Any] = {
        "page_id": item.page_id,
        "source_id": item.source_id,
        "url": item.url,
        "page_version": item.page_version,
        "processed_at": now,
        "processor_version": PROCESSOR_VERSION,
        "duplicate_of_id": None,
    }
    result = item.result
    if isinstance(result, Skipped):
        return row | {
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
    assert item.fingerprint is not None
    return row | {
        "title": result.title,
        "author": result.author,
        "description": result.description,
        "published_at": result.published_at,
        "language": result.language,
        "text": result.text,
        "text_hash": item.fingerprint.text_hash,
        "fields": result.fields,
        "meta": result.meta,
        "minhash": item.fingerprint.signature_bytes,
        "skip_reason": None,
    }


def find_duplicates(conn: Connection, batch: list[Processed], threshold: float) -> None:
    """Set `duplicate_of` for documents that repeat an earlier one, exactly or nearly.

    Earlier means: a canonical document already stored (not part of this batch), or one earlier in
    this batch. Candidates come from one lookup of text hashes and one of LSH bands for the batch."""
    texts = [item for item in batch if item.fingerprint is not None]
    if not texts:
        return
    own_ids = [item.document_id for item in batch]
    stored_exact = dict(
        conn.execute(
            select(Document.text_hash, func.min(Document.id))
            .where(
                Document.text_hash.in_({i.fingerprint.text_hash for i in texts if i.fingerprint}),
                Document.id.not_in(own_ids),
                Document.duplicate_of_id.is_(None),
                Document.skip_reason.is_(None),
            )
            .group_by(Document.text_hash)
        ).all()
    )
    bands = {
        item.document_id: band_hashes(item.fingerprint.signature, threshold)
        for item in texts
        if item.fingerprint is not None and item.fingerprint.signature is not None
    }
    stored_bands: dict[tuple[int, int], set[int]] = {}
    all_bands = {band for item_bands in bands.values() for band in item_bands}
    if all_bands:
        for band, value, document_id in conn.execute(
            select(DocumentBand.band, DocumentBand.band_hash, DocumentBand.document_id).where(
                tuple_(DocumentBand.band, DocumentBand.band_hash).in_(all_bands),
                DocumentBand.document_id.not_in(own_ids),
            )
        ):
            stored_bands.setdefault((band, value), set()).add(document_id)
    candidates = {i for ids in stored_bands.values() for i in ids}
    signatures = (
        {
            document_id: signature_from_bytes(minhash or b"")
            for document_id, minhash in conn.execute(
                select(Document.id, Document.minhash).where(
                    Document.id.in_(candidates),
                    Document.duplicate_of_id.is_(None),
                    Document.minhash.is_not(None),
                )
            )
        }
        if candidates
        else {}
    )

    batch_exact: dict[str, int] = {}
    for item in texts:
        assert item.fingerprint is not None
        digest = item.fingerprint.text_hash
        if digest in stored_exact:
            item.duplicate_of = (int(stored_exact[digest]), "exact")
        elif digest in batch_exact:
            item.duplicate_of = (batch_exact[digest], "exact")
        elif item.document_id in bands and item.fingerprint.signature is not None:
            near = _nearest(item, bands[item.document_id], stored_bands, signatures, threshold)
            if near is not None:
                item.duplicate_of = (near, "near")
        if item.duplicate_of is None:
            # canonical: later documents of this batch compare against it too
            batch_exact[digest] = item.document_id
            if item.fingerprint.signature is not None:
                signatures[item.document_id] = item.fingerprint.signature
                for key in bands.get(item.document_id, []):
                    stored_bands.setdefault(key, set()).add(item.document_id)


def _nearest(
    item: Processed,
    item_bands: list[tuple[int, int]],
    index: dict[tuple[int, int], set[int]],
    signatures: dict[int, Any],
    threshold: float,
) -> int | None:
    assert item.fingerprint is not None and item.fingerprint.signature is not None
    best: tuple[float, int] | None = None
    for candidate in {c for key in item_bands for c in index.get(key, ())}:
        signature = signatures.get(candidate)
        if signature is None or candidate == item.document_id:
            continue
        score = similarity(item.fingerprint.signature, signature)
        # ties go to the older (smaller id) document, so the canonical one is stable
        if score >= threshold and (best is None or (score, -candidate) > (best[0], -best[1])):
            best = (score, candidate)
    return None if best is None else best[1]


def mark_duplicates(conn: Connection, batch: list[Processed]) -> None:
    rows = [
        {"b_id": i.document_id, "b_canonical": i.duplicate_of[0], "b_kind": i.duplicate_of[1]}
        for i in batch
        if i.duplicate_of is not None
    ]
    if not rows:
        return
    conn.execute(
        update(Document)
        .where(Document.id == bindparam("b_id"))
        .values(
            duplicate_of_id=bindparam("b_canonical"),
            meta=Document.meta.op("||")(
                func.jsonb_build_object("duplicate", bindparam("b_kind", type_=String))
            ),
        ),
        rows,
    )


def index_bands(conn: Connection, batch: list[Processed], threshold: float) -> None:
    """Bands of the batch's canonical documents replace whatever bands these documents had."""
    conn.execute(delete(DocumentBand).where(DocumentBand.document_id.in_([i.document_id for i in batch])))
    rows = [
        {"band": band, "band_hash": value, "document_id": item.document_id}
        for item in batch
        if item.duplicate_of is None
        and item.fingerprint is not None
        and item.fingerprint.signature is not None
        for band, value in band_hashes(item.fingerprint.signature, threshold)
    ]
    if rows:
        conn.execute(insert(DocumentBand).on_conflict_do_nothing(), rows)


def replace_chunks(
    conn: Connection,
    drafts: dict[int, list[ChunkDraft]],
    all_ids: list[int],
    languages: dict[int, str | None] | None = None,
    titles: dict[int, str | None] | None = None,
) -> tuple[int, int]:
    """Make each document's chunks equal its drafts (documents not in `drafts` get none).

    Chunks whose id survives keep their row and embeddings; only their position and text-search
    configuration (from the document's language) follow the document. Returns (added, removed)."""
    languages = languages or {}
    titles = titles or {}
    new_ids = [d.id for document_drafts in drafts.values() for d in document_drafts]
    removed = conn.execute(
        delete(Chunk).where(Chunk.document_id.in_(all_ids), Chunk.id.not_in(new_ids)).returning(Chunk.id)
    ).all()
    if not new_ids:
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
            "title": titles.get(document_id),
            "search_config": text_config(languages.get(document_id)),
        }
        for document_id, document_drafts in drafts.items()
        for d in document_drafts
    ]
    statement = insert(Chunk)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[Chunk.id],
            set_={"ordinal": statement.excluded.ordinal, "search_config": statement.excluded.search_config},
            where=(Chunk.ordinal != statement.excluded.ordinal)
            | (Chunk.search_config != statement.excluded.search_config),
        ),
        rows,
    )
    return len(set(new_ids) - existing), len(removed)
