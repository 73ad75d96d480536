"""`harvest embed`: a vector for every chunk that lacks one for the model. Incremental and resumable.

Work is found, not remembered: chunks without a row in chunk_embeddings for the model. Each batch is
encoded, then written in one transaction, so a killed run leaves whole batches and the next run does
the rest; a second concurrent run of the same model is refused.

A model's first load (no vectors yet) is written without its HNSW index, which is built once at the
end: on a CPU shared with the encoder, one graph insert per vector while encoding cost more than a
build afterwards. Every run (and one that finds nothing to do) first builds a missing index, so a run
killed mid-load leaves searches exact and slower until the next run, never wrong.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine, select, text

from harvest.db.engine import get_engine
from harvest.db.models import EmbeddingModel
from harvest.embeddings.backend import get_encoder
from harvest.embeddings.store import (
    count_pending,
    drop_index,
    ensure_index,
    has_vectors,
    pending_chunks,
    register_model,
    write_vectors,
)
from harvest.errors import ConflictError
from harvest.settings import Settings

logger = logging.getLogger(__name__)

_EMBED_LOCK_CLASS = 0x6876  # pg_advisory_lock(class, model id): one run per model at a time


@dataclass
class EmbedReport:
    model: str
    model_id: int = 0
    embedded: int = 0
    truncated: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.embedded / self.seconds if self.seconds else 0.0


def embed_pending(
    settings: Settings,
    model: str | None = None,
    *,
    on_progress: Callable[[int, int, float], None] | None = None,
) -> EmbedReport:
    """Embed every chunk without a vector for `model` (default: HARVEST_EMBEDDING_MODEL)."""
    engine = get_engine(settings)
    known = _registered(engine, settings, model)
    index = {"hnsw_m": settings.hnsw_m, "ef_construction": settings.hnsw_ef_construction}
    if known is not None and count_pending(engine, known[0]) == 0:
        with _run_lock(engine, known[0]) as locked:
            if locked:  # else the run that holds it builds the index, if it is missing
                ensure_index(engine, known[0], **index)
        return EmbedReport(model=known[1], model_id=known[0])  # nothing new: no need to load the model
    encoder = get_encoder(settings, model)
    report = EmbedReport(model=encoder.name)
    report.model_id = register_model(engine, encoder.name, encoder.dimension, **index)
    started = time.perf_counter()
    with _run_lock(engine, report.model_id) as locked:
        if not locked:
            raise ConflictError(f"another `harvest embed` is running for model {encoder.name!r}; wait for it")
        if has_vectors(engine, report.model_id):
            ensure_index(engine, report.model_id, **index)
        else:
            drop_index(engine, report.model_id)
        # Writing a batch overlaps with encoding the next one.
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vector-writer")
        pending_write: Future[int] | None = None
        try:
            total = count_pending(engine, report.model_id)
            after = ""
            while batch := pending_chunks(engine, report.model_id, settings.embed_batch_chunks, after):
                after = batch[-1][0]
                result = encoder.encode([chunk_text for _, chunk_text in batch])
                if pending_write is not None:
                    report.embedded += pending_write.result()
                pending_write = writer.submit(
                    write_vectors, engine, report.model_id, [cid for cid, _ in batch], result.vectors
                )
                report.truncated += result.truncated
                report.seconds = time.perf_counter() - started
                if on_progress is not None:
                    on_progress(report.embedded, total, report.rate)
            if pending_write is not None:
                report.embedded += pending_write.result()
        finally:
            writer.shutdown(wait=True)
        ensure_index(engine, report.model_id, **index)
    report.seconds = time.perf_counter() - started
    if report.truncated:
        logger.warning("inputs truncated to the model's token limit", extra={"count": report.truncated})
    return report


@contextmanager
def _run_lock(engine: Engine, model_id: int) -> Iterator[bool]:
    """The model's run lock (a session advisory lock), if no other run holds it."""
    with engine.connect() as conn:
        params = {"c": _EMBED_LOCK_CLASS, "m": model_id}
        locked = bool(conn.execute(text("SELECT pg_try_advisory_lock(:c, :m)"), params).scalar())
        conn.commit()  # the lock is the session's: no open transaction for CONCURRENTLY to wait on
        try:
            yield locked
        finally:
            if locked:
                conn.execute(text("SELECT pg_advisory_unlock(:c, :m)"), params)
                conn.commit()


def _registered(engine: Engine, settings: Settings, model: str | None) -> tuple[int, str] | None:
    """(id, name) of the model this run would write, if it is registered already."""
    from harvest.embeddings.onnx_encoder import INT8_SUFFIX

    name = model or settings.embedding_model
    if settings.embedding_backend == "onnx-int8" and not name.endswith(INT8_SUFFIX):
        name += INT8_SUFFIX
    with engine.connect() as conn:
        found = conn.execute(select(EmbeddingModel.id).where(EmbeddingModel.name == name)).scalar()
    return None if found is None else (int(found), name)
