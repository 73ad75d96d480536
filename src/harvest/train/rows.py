"""The documents a dataset draws from, streamed from PostgreSQL in id order (never all in memory)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from harvest.train.labels import DocumentFacts

if TYPE_CHECKING:
    from harvest.train.datasets import DatasetView

# Canonical, non-empty documents of the dataset's sources, with what every label rule may read.
_CANDIDATES = """
SELECT d.id, d.url, d.title, d.text, d.text_hash, d.fields, d.page_version, d.page_id,
       s.labels AS source_labels, s.name AS source, p.version AS page_latest, p.url AS page_url,
       p.content_hash AS page_hash, p.last_fetched_at,
       CASE WHEN :entity THEN ARRAY(
           SELECT DISTINCT e.type FROM entity_mentions m JOIN entities e ON e.id = m.entity_id
           WHERE m.document_id = d.id) ELSE ARRAY[]::text[] END AS entity_types,
       CASE WHEN :imported THEN ARRAY(
           SELECT l.label FROM dataset_labels l WHERE l.dataset_id = :dataset_id AND l.document_id = d.id)
           ELSE ARRAY[]::text[] END AS imported
FROM documents d
JOIN sources s ON s.id = d.source_id
JOIN pages p ON p.id = d.page_id
WHERE s.name = ANY(:sources)
  AND d.duplicate_of_id IS NULL AND d.skip_reason IS NULL AND d.text <> ''
  AND (CAST(:language AS text) IS NULL
       OR lower(split_part(replace(d.language, '_', '-'), '-', 1)) = lower(CAST(:language AS text)))
ORDER BY d.id
"""


@dataclass(frozen=True)
class CandidateRow:
    document_id: int
    page_id: int
    page_version: int
    page_latest: int
    page_hash: str | None
    fetched_at: datetime | None
    url: str
    page_url: str
    title: str | None
    text: str
    text_hash: str | None
    source: str
    facts: DocumentFacts


def candidate_facts(engine: Engine, view: DatasetView, *, batch: int = 1000) -> Iterator[CandidateRow]:
    params: dict[str, Any] = {
        "sources": view.sources,
        "language": view.language,
        "entity": view.rule.kind == "entity",
        "imported": view.rule.kind == "import",
        "dataset_id": view.id,
    }
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(
            text(_CANDIDATES), params
        )
        for row in result:
            yield CandidateRow(
                document_id=row.id,
                page_id=row.page_id,
                page_version=row.page_version,
                page_latest=row.page_latest,
                page_hash=row.page_hash,
                fetched_at=row.last_fetched_at,
                url=row.url,
                page_url=row.page_url,
                title=row.title,
                text=row.text,
                text_hash=row.text_hash,
                source=row.source,
                facts=DocumentFacts(
                    url=row.url,
                    fields=dict(row.fields or {}),
                    source_labels=dict(row.source_labels or {}),
                    entity_types=tuple(row.entity_types or ()),
                    imported=tuple(row.imported or ()),
                ),
            )


def document_vectors(
    engine: Engine, model_id: int, dimension: int, document_ids: list[int]
) -> dict[int, list[float]]:
    """The mean of each document's chunk vectors for a model (documents without any are absent)."""
    if not document_ids:
        return {}
    query = text(
        f"SELECT c.document_id, avg(e.embedding::vector({int(dimension)}))::text AS mean "
        "FROM chunks c JOIN chunk_embeddings e ON e.chunk_id = c.id AND e.model_id = :model "
        "WHERE c.document_id = ANY(:ids) GROUP BY c.document_id"
    )
    with engine.connect() as conn:
        rows = conn.execute(query, {"model": model_id, "ids": document_ids}).all()
    return {int(row.document_id): [float(x) for x in row.mean.strip("[]").split(",")] for row in rows}
