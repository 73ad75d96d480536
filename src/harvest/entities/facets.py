"""Entities as seen from documents: the mentions in one document, and which entities a set of documents
(a page of search results) mentions most — the search page's entity facets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from harvest.db.engine import get_engine
from harvest.settings import Settings

_MENTIONS = text(
    "SELECT m.chunk_id, m.start, m.end, m.surface, m.score, e.cluster_id AS entity_id, "
    "head.name, head.type FROM entity_mentions m "
    "JOIN entities e ON e.id = m.entity_id JOIN entities head ON head.id = e.cluster_id "
    "WHERE m.document_id = :document ORDER BY m.chunk_id, m.start"
)
_FACETS = text(
    "SELECT e.cluster_id AS entity_id, min(head.name) AS name, min(head.type) AS type, "
    "count(DISTINCT m.document_id) AS documents, count(*) AS mentions FROM entity_mentions m "
    "JOIN entities e ON e.id = m.entity_id JOIN entities head ON head.id = e.cluster_id "
    "WHERE m.document_id = ANY(:documents) GROUP BY e.cluster_id "
    "ORDER BY documents DESC, mentions DESC, name LIMIT :limit"
)


def mentions_in_document(settings: Settings, document_id: int) -> list[dict[str, Any]]:
    """Each mention with its chunk, offsets inside the chunk, the text as written and its entity."""
    with get_engine(settings).connect() as conn:
        return [dict(row._mapping) for row in conn.execute(_MENTIONS, {"document": document_id})]


def entity_facets(settings: Settings, document_ids: list[int], limit: int = 20) -> list[dict[str, Any]]:
    """The entities these documents mention, by how many of them mention each."""
    if not document_ids:
        return []
    with get_engine(settings).connect() as conn:
        rows = conn.execute(_FACETS, {"documents": document_ids, "limit": limit})
        return [dict(row._mapping) for row in rows]
