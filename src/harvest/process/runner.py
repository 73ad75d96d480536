"""`harvest process`: every page version not yet processed → document, duplicates, chunks. Incremental.

Work is found, not remembered: a page whose latest stored version is newer than its document's (or that
has no document, or whose document an older version of this stage made) needs processing. Each batch is
one transaction, so a rerun after a crash picks up exactly what is missing, and a rerun after success
finds nothing to do.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine, and_, func, or_, select, text

from harvest.db.engine import get_engine
from harvest.db.models import Document, Page, Source
from harvest.errors import ConflictError, NotFoundError
from harvest.process.chunking import ChunkingPolicy, chunk_pieces, draft_chunks
from harvest.process.extract import Extraction, Skipped
from harvest.process.persist import (
    PROCESSOR_VERSION,
    Processed,
    find_duplicates,
    index_bands,
    mark_duplicates,
    replace_chunks,
    save_documents,
)
from harvest.process.pool import ChunkSpec, Extractor, PageInput, Prepared, worker_count
from harvest.process.tokens import TokenCounter, token_counter
from harvest.settings import Settings
from harvest.storage import RawStore, open_raw_store

logger = logging.getLogger(__name__)

_PROCESS_LOCK_KEY = 0x6861727665737403


@dataclass
class ProcessReport:
    processed: int = 0
    documents: int = 0
    skipped: int = 0
    exact_duplicates: int = 0
    near_duplicates: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    missing_raw: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WorkItem:
    page_id: int
    source_id: int
    source: str
    url: str
    version: int
    content_type: str | None
    field_rules: dict[str, dict[str, str]]


def _pending_filter(source_id: int | None, force: bool = False) -> list[object]:
    conditions: list[object] = [Page.version > 0]
    if not force:  # forced: every page's latest version again (new extraction rules or chunk settings)
        conditions.append(
            or_(
                Document.id.is_(None),
                Document.page_version < Page.version,
                Document.processor_version < PROCESSOR_VERSION,
            )
        )
    if source_id is not None:
        conditions.append(Page.source_id == source_id)
    return conditions


def count_pending(engine: Engine, source_id: int | None = None, force: bool = False) -> int:
    query = (
        select(func.count())
        .select_from(Page)
        .outerjoin(Document, Document.page_id == Page.id)
        .where(and_(*_pending_filter(source_id, force)))  # type: ignore[arg-type]
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def next_batch(
    engine: Engine, size: int, source_id: int | None, after_page_id: int, force: bool = False
) -> list[WorkItem]:
    query = (
        select(
            Page.id,
            Page.source_id,
            Source.name,
            Page.url,
            Page.version,
            Page.content_type,
            Source.extraction_rules,
        )
        .join(Source, Source.id == Page.source_id)
        .outerjoin(Document, Document.page_id == Page.id)
        .where(and_(*_pending_filter(source_id, force)), Page.id > after_page_id)  # type: ignore[arg-type]
        .order_by(Page.id)
        .limit(size)
    )
    with engine.connect() as conn:
        return [
            WorkItem(
                row.id,
                row.source_id,
                row.name,
                row.url,
                row.version,
                row.content_type,
                (row.extraction_rules or {}).get("fields", {}),
            )
            for row in conn.execute(query)
        ]


# Fewer pages than this many batches: starting workers costs more than it saves.
POOL_MIN_BATCHES = 4
# Batches read and handed to the workers ahead of the one being written.
LOOKAHEAD_BATCHES = 2


def process_pending(
    settings: Settings,
    source: str | None = None,
    *,
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> ProcessReport:
    """Process every pending page version (of one source, or all); `on_progress(done, total)`. `force`
    processes every page's latest version again: after changing extraction rules or chunk settings.

    Extraction runs on HARVEST_PROCESS_WORKERS processes when there is enough work; batches are
    still written one transaction each, in page order, by this process."""
    engine = get_engine(settings)
    source_id = _source_id(engine, source) if source else None
    counter = token_counter(settings.embedding_model)
    policy = ChunkingPolicy(
        settings.chunk_max_tokens, settings.chunk_overlap_tokens, settings.chunk_min_tokens
    )
    report = ProcessReport()
    with engine.connect() as lock_conn:
        # one process run at a time: two would race to mark the same duplicates
        if not lock_conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PROCESS_LOCK_KEY}).scalar():
            raise ConflictError("processing is already running on this database; wait for it to finish")
        try:
            total = count_pending(engine, source_id, force)
            workers = worker_count(settings.process_workers)
            if total < POOL_MIN_BATCHES * settings.process_batch_size:
                workers = 1
            extractor = Extractor(workers, ChunkSpec(settings.embedding_model, policy))
            try:
                with open_raw_store(settings) as raw:
                    in_flight: deque[tuple[list[WorkItem], Callable[[], list[Prepared | None]]]] = deque()
                    after, exhausted = 0, False
                    depth = LOOKAHEAD_BATCHES if extractor.parallel else 1
                    while True:
                        while not exhausted and len(in_flight) < depth:
                            batch = next_batch(engine, settings.process_batch_size, source_id, after, force)
                            if not batch:
                                exhausted = True
                                break
                            after = batch[-1].page_id
                            in_flight.append((batch, _submit(raw, batch, settings, extractor, report)))
                        if not in_flight:
                            break
                        batch, pending = in_flight.popleft()
                        _write_batch(engine, batch, pending(), settings, counter, policy, report)
                        if on_progress is not None:
                            on_progress(report.processed, total)
            finally:
                extractor.close()
        finally:
            lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PROCESS_LOCK_KEY})
            lock_conn.commit()
    return report


def _submit(
    raw: RawStore, batch: list[WorkItem], settings: Settings, extractor: Extractor, report: ProcessReport
) -> Callable[[], list[Prepared | None]]:
    """Read the batch's raw versions and hand them to the extractor; returns the pending results,
    one per page of `batch` (None for a raw version the store does not have)."""
    pages = raw.get_many((item.source, item.url, item.version) for item in batch)
    inputs: list[PageInput] = []
    found: list[bool] = []
    for item in batch:
        page = pages.get((item.source, item.url, item.version))
        found.append(page is not None)
        if page is None:
            report.missing_raw += 1  # the raw store lost it (or it is still being written): try next run
            logger.warning("raw page version missing", extra={"url": item.url, "version": item.version})
            continue
        inputs.append(
            PageInput(
                item.url,
                page.body,
                item.content_type or page.content_type,
                item.field_rules,
                settings.process_max_chars,
            )
        )
    handle = extractor.submit(inputs) if inputs else (lambda: [])

    def results() -> list[Prepared | None]:
        done = iter(handle())
        return [next(done) if present else None for present in found]

    return results


def _write_batch(
    engine: Engine,
    batch: list[WorkItem],
    results: list[Prepared | None],
    settings: Settings,
    counter: TokenCounter,
    policy: ChunkingPolicy,
    report: ProcessReport,
) -> None:
    found = [(item, done) for item, done in zip(batch, results, strict=True) if done is not None]
    if not found:
        return
    prepared = [
        Processed(item.page_id, item.source_id, item.url, item.version, done.result, done.fingerprint)
        for item, done in found
    ]
    pieces = [done.pieces for _, done in found]
    with engine.begin() as conn:
        save_documents(conn, prepared)
        find_duplicates(conn, prepared, settings.near_duplicate_threshold)
        mark_duplicates(conn, prepared)
        index_bands(conn, prepared, settings.near_duplicate_threshold)
        drafts = {
            p.document_id: draft_chunks(
                cut if cut is not None else chunk_pieces(p.result.text, counter, policy, p.result.title),
                str(p.document_id),
                p.result.title,
            )
            for p, cut in zip(prepared, pieces, strict=True)
            if isinstance(p.result, Extraction) and p.duplicate_of is None
        }
        languages = {p.document_id: p.result.language for p in prepared if isinstance(p.result, Extraction)}
        titles = {p.document_id: p.result.title for p in prepared if isinstance(p.result, Extraction)}
        added, removed = replace_chunks(conn, drafts, [p.document_id for p in prepared], languages, titles)
    report.chunks_added += added
    report.chunks_removed += removed
    for done in prepared:
        report.processed += 1
        if isinstance(done.result, Skipped):
            report.skipped += 1
            reason = done.result.reason.split(":")[0]
            report.skip_reasons[reason] = report.skip_reasons.get(reason, 0) + 1
        elif done.duplicate_of is None:
            report.documents += 1
        elif done.duplicate_of[1] == "exact":
            report.exact_duplicates += 1
        else:
            report.near_duplicates += 1


def _source_id(engine: Engine, name: str) -> int:
    with engine.connect() as conn:
        found = conn.execute(select(Source.id).where(Source.name == name)).scalar()
    if found is None:
        raise NotFoundError(f"no source named {name!r}", hint="see `harvest source list`")
    return int(found)
