"""Keyword candidates from PostgreSQL full text search.

Two passes. First the query as written (`websearch_to_tsquery`: every word, "phrases", -exclusions, or),
ranked by cover density. When that finds too few chunks and the query is plain words, chunks with *some*
of the words follow, ranked by the summed inverse document frequency of the words they contain (rare
words count more, as in BM25) with cover density breaking ties. Each chunk is matched with the query
parsed by its own language's configuration, and every branch can use the GIN index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, text

JOINS = (
    "JOIN documents d ON d.id = c.document_id "
    "JOIN sources s ON s.id = d.source_id "
    "JOIN pages p ON p.id = d.page_id"
)
IDF_SAMPLE_CAP = 2000  # document frequencies above this are all "very common": counting further is waste

_QUERIES = (
    "WITH q AS MATERIALIZED (SELECT cfg::regconfig AS config, websearch_to_tsquery(cfg::regconfig, :q) "
    "AS query FROM unnest(CAST(:configs AS text[])) AS cfg) "
)
# Ranking reads every matching chunk's tsvector; a very common word matches a large part of the corpus.
# At most this many matches (in index order) are ranked per pass: rare-word queries are exact, and for
# very common words the order among the rest carries little information anyway.
RANK_CAP = 5000
_ALL_WORDS = (
    _QUERIES + ", m AS MATERIALIZED (SELECT c.id, c.document_id, c.search_vector, q.query "
    "FROM q JOIN chunks c ON c.search_config = q.config AND c.search_vector @@ q.query "
    f"{JOINS} WHERE true {{where}} LIMIT {RANK_CAP}) "
    "SELECT id AS chunk_id, document_id, 1.0 + ts_rank_cd(search_vector, query, 32) AS score "
    "FROM m ORDER BY score DESC, id LIMIT :depth"
)
_SOME_WORDS = (
    _QUERIES + ", terms AS MATERIALIZED (SELECT q.config, quote_literal(t.lexeme)::tsquery AS term "
    "FROM q CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector(q.config, :plain))) AS t(lexeme)), "
    "idf AS MATERIALIZED (SELECT terms.config, terms.term, ln(1 + (:total + 0.5) / (0.5 + "
    "(SELECT count(*) FROM (SELECT 1 FROM chunks x WHERE x.search_config = terms.config "
    f"AND x.search_vector @@ terms.term LIMIT {IDF_SAMPLE_CAP}) AS sample))) AS weight FROM terms), "
    "anyq AS MATERIALIZED (SELECT config, string_agg(term::text, ' | ')::tsquery AS query "
    "FROM terms GROUP BY config), "
    "m AS MATERIALIZED (SELECT c.id, c.document_id, c.search_config, c.search_vector, anyq.query "
    "FROM anyq JOIN chunks c ON c.search_config = anyq.config AND c.search_vector @@ anyq.query "
    f"{JOINS} WHERE c.id <> ALL(:seen) {{where}} LIMIT {RANK_CAP}) "
    "SELECT m.id AS chunk_id, m.document_id, "
    "(SELECT sum(idf.weight) FROM idf WHERE idf.config = m.search_config AND m.search_vector @@ idf.term) "
    "+ ts_rank_cd(m.search_vector, m.query, 32) AS score "
    "FROM m ORDER BY score DESC, m.id LIMIT :depth"
)


@dataclass(frozen=True)
class KeywordCandidate:
    chunk_id: str
    document_id: int
    score: float


def plain_words(query: str) -> bool:
    """True for plain words; False when the user wrote search syntax whose meaning must be kept."""
    words = query.split()
    return (
        len(words) >= 2
        and '"' not in query
        and not any(w.startswith("-") or w.lower() == "or" for w in words)
    )


def keyword_candidates(
    conn: Connection,
    query: str,
    configs: list[str],
    where: list[str],
    params: dict[str, Any],
    depth: int,
    min_found: int,
) -> list[KeywordCandidate]:
    """Up to `depth` candidates; the some-words pass runs only when the all-words pass found fewer than
    `min_found` (the page the caller must fill)."""
    conditions = "".join(" AND " + w for w in where)
    values = params | {"q": query, "configs": configs, "depth": depth}
    rows = conn.execute(text(_ALL_WORDS.format(where=conditions)), values).all()
    found = [KeywordCandidate(r.chunk_id, r.document_id, float(r.score)) for r in rows]
    if len(found) < min_found and plain_words(query):
        total = conn.execute(
            text("SELECT greatest(reltuples, 1) FROM pg_class WHERE relname = 'chunks'")
        ).scalar()
        values |= {
            "plain": query,
            "total": float(total or 1),
            "depth": depth - len(found),
            "seen": [c.chunk_id for c in found],
        }
        rows = conn.execute(text(_SOME_WORDS.format(where=conditions)), values).all()
        # s / (1 + s) keeps every some-words chunk (below 1) under every all-words chunk (above 1)
        found += [
            KeywordCandidate(r.chunk_id, r.document_id, float(r.score) / (1.0 + float(r.score))) for r in rows
        ]
    return found


def highlight_query(query: str) -> str:
    """The websearch query whose words a snippet highlights: any word of a plain query."""
    return " or ".join(query.split()) if plain_words(query) else query
