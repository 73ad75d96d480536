"""Vectors in pgvector: the model registry, per-model HNSW indexes, writes, and the active model."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, Engine, exists, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from harvest.db.models import Chunk, ChunkEmbedding, EmbeddingModel
from harvest.embedding_input import embedding_input
from harvest.errors import ConflictError, InvalidInputError, NotFoundError


@dataclass(frozen=True)
class ModelInfo:
    id: int
    name: str
    dimension: int
    active: bool
    vectors: int
    chunks: int

    @property
    def complete(self) -> bool:
        return self.vectors >= self.chunks


def index_name(model_id: int) -> str:
    return f"ix_chunk_embeddings_hnsw_{model_id}"


def register_model(engine: Engine, name: str, dimension: int, *, hnsw_m: int, ef_construction: int) -> int:
    """The model's id, registering it (and creating its HNSW index) on first use. The first model
    registered becomes the active one."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('harvest.embedding_models'))"))
        row = conn.execute(
            select(EmbeddingModel.id, EmbeddingModel.dimension).where(EmbeddingModel.name == name)
        ).first()
        if row is not None:
            if row.dimension != dimension:
                raise ConflictError(
                    f"model {name!r} is registered with dimension {row.dimension} but now returns {dimension}"
                )
            return int(row.id)
        any_active = conn.execute(select(exists().where(EmbeddingModel.active))).scalar()
        model_id = int(
            conn.execute(
                insert(EmbeddingModel)
                .values(name=name, dimension=dimension, active=not any_active)
                .returning(EmbeddingModel.id)
            ).scalar_one()
        )
        _create_index(conn, model_id, dimension, hnsw_m, ef_construction)
        return model_id


def _create_index(
    conn: Connection,
    model_id: int,
    dimension: int,
    m: int,
    ef_construction: int,
    *,
    concurrently: bool = False,
) -> None:
    # A partial expression index per model: one table holds vectors of every dimension (pgvector's
    # documented way), and each model's cosine searches use its own HNSW graph.
    conn.execute(
        text(
            f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {index_name(model_id)} "
            "ON chunk_embeddings "
            f"USING hnsw ((embedding::vector({int(dimension)})) vector_cosine_ops) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) WHERE model_id = {int(model_id)}"
        )
    )


def has_vectors(engine: Engine, model_id: int) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(select(exists().where(ChunkEmbedding.model_id == model_id))).scalar())


def drop_index(engine: Engine, model_id: int) -> None:
    """Drop the model's HNSW index before a bulk load into it (built once afterwards, by
    `ensure_index`: far less work than one graph insert per vector). CONCURRENTLY: other models'
    searches and writes on the shared table are never blocked."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {index_name(model_id)}"))


def ensure_index(engine: Engine, model_id: int, *, hnsw_m: int, ef_construction: int) -> bool:
    """Build the model's HNSW index if it is missing (after a bulk load, or a run killed during one);
    True if it was built. CONCURRENTLY: the table stays writable meanwhile."""
    with engine.connect() as conn:
        valid = conn.execute(
            text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
            {"name": index_name(model_id)},
        ).scalar()
        if valid:
            return False
        dimension = conn.execute(
            select(EmbeddingModel.dimension).where(EmbeddingModel.id == model_id)
        ).scalar_one()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # an interrupted CONCURRENTLY build leaves an invalid index: drop it, build afresh
        conn.execute(text(f"DROP INDEX CONCURRENTLY IF EXISTS {index_name(model_id)}"))
        _create_index(conn, model_id, dimension, hnsw_m, ef_construction, concurrently=True)
    return True


def pending_chunks(engine: Engine, model_id: int, limit: int, after: str = "") -> list[tuple[str, str]]:
    """(chunk id, what the model reads) of chunks without a vector for the model, in id order after
    `after`: the page title and heading path, then the text (harvest.embedding_input)."""
    missing = ~exists().where(ChunkEmbedding.model_id == model_id, ChunkEmbedding.chunk_id == Chunk.id)
    query = (
        select(Chunk.id, Chunk.title, Chunk.heading, Chunk.text)
        .where(missing, Chunk.id > after)
        .order_by(Chunk.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [(row.id, embedding_input(row.title, row.heading, row.text)) for row in conn.execute(query)]


def count_pending(engine: Engine, model_id: int) -> int:
    missing = ~exists().where(ChunkEmbedding.model_id == model_id, ChunkEmbedding.chunk_id == Chunk.id)
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Chunk).where(missing)).scalar_one())


def write_vectors(engine: Engine, model_id: int, chunk_ids: list[str], vectors: np.ndarray) -> int:
    """Store vectors (one transaction); a chunk deleted meanwhile is skipped, a repeat is ignored."""
    rows = [
        {"model_id": model_id, "chunk_id": cid, "embedding": vec}
        for cid, vec in zip(chunk_ids, vectors, strict=True)
    ]
    with engine.begin() as conn:
        live = set(conn.execute(select(Chunk.id).where(Chunk.id.in_(chunk_ids))).scalars())
        rows = [row for row in rows if row["chunk_id"] in live]
        if rows:
            conn.execute(pg_insert(ChunkEmbedding).on_conflict_do_nothing(), rows)
    return len(rows)


def list_models(engine: Engine) -> list[ModelInfo]:
    vectors = (
        select(func.count())
        .select_from(ChunkEmbedding)
        .where(ChunkEmbedding.model_id == EmbeddingModel.id)
        .scalar_subquery()
    )
    with engine.connect() as conn:
        chunks = int(conn.execute(select(func.count()).select_from(Chunk)).scalar_one())
        return [
            ModelInfo(row.id, row.name, row.dimension, row.active, int(row.vectors), chunks)
            for row in conn.execute(
                select(
                    EmbeddingModel.id,
                    EmbeddingModel.name,
                    EmbeddingModel.dimension,
                    EmbeddingModel.active,
                    vectors.label("vectors"),
                ).order_by(EmbeddingModel.id)
            )
        ]


def activate_model(engine: Engine, name: str, *, force: bool = False) -> ModelInfo:
    """Make `name` the model search uses, in one transaction: no moment without an active model."""
    models = {m.name: m for m in list_models(engine)}
    model = models.get(name)
    if model is None:
        raise NotFoundError(f"no embedded model {name!r}", hint=f"run `harvest embed --model {name}` first")
    if not model.complete and not force:
        raise InvalidInputError(
            f"model {name!r} has vectors for {model.vectors} of {model.chunks} chunks; finish embedding "
            "it first (or force)",
            hint=f"`harvest embed --model {name}`, or --force",
        )
    with engine.begin() as conn:
        # one transaction: readers see the old active model until commit, then the new one, never none
        conn.execute(update(EmbeddingModel).where(EmbeddingModel.active).values(active=False))
        conn.execute(update(EmbeddingModel).where(EmbeddingModel.id == model.id).values(active=True))
    return ModelInfo(model.id, model.name, model.dimension, True, model.vectors, model.chunks)


def active_model(conn: Connection) -> tuple[int, str, int] | None:
    row = conn.execute(
        select(EmbeddingModel.id, EmbeddingModel.name, EmbeddingModel.dimension).where(EmbeddingModel.active)
    ).first()
    return None if row is None else (row.id, row.name, row.dimension)


def check_model_name(name: str) -> str:
    if not name or len(name) > 300 or not re.match(r"^[\w./:@+-]+$", name):
        raise InvalidInputError(f"{name!r} is not a model name or path")
    return name
