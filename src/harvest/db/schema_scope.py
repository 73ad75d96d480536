"""Which database objects Harvest's models describe, for Alembic's comparisons: not the per-model HNSW
indexes (created at run time by the embed stage) and not procrastinate's queue schema (its own SQL, applied
by migration 0006)."""

from __future__ import annotations


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    name = name or ""
    if type_ == "index" and name.startswith("ix_chunk_embeddings_hnsw_"):
        return False
    return not name.startswith("procrastinate_")
