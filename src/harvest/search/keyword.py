"""Keyword candidates from PostgreSQL full text search, scored by BM25.

A chunk's score sums, over the query's words, the word's inverse document frequency (rare words count
more) times BM25's saturating term frequency, normalised by the chunk's length against the average
chunk's (k1 = 1.2, b = 0.75). The page title and heading path are part of every chunk's text-search
vector, so a word there counts as an occurrence too. The term frequency is read from `ts_rank` of the
word alone with every position weighted 1, which is sum(1/i^2, i = 1..tf) / (pi^2/6): inverted
exactly, it gives the count of the word's positions from the index's own vector (a binary search,
not an unnest of every lexeme). Plain words match chunks with any of them, so a page that uses most
of the words still ranks when it lacks one; written syntax ("phrases", -exclusions, OR in capitals)
keeps its meaning: only chunks matching the query as written are candidates. Each chunk is matched
with the query parsed by its own language's configuration, and every branch can use the GIN index.

Very common words (in more than COMMON_DF chunks) still add to the scores but do not select candidates
when the query has rarer ones, so a query's candidates stay few and are found through the index.

The chunks are grouped into documents in the same query (`ranking.documents`, the same arithmetic in
the same order, so the same scores), and only the documents a page of results can reach are returned.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from harvest.search.ranking import DocumentScore, Evidence

JOINS = (
    "JOIN documents d ON d.id = c.document_id "
    "JOIN sources s ON s.id = d.source_id "
    "JOIN pages p ON p.id = d.page_id"
)
COMMON_DF = 2000  # document frequencies are counted up to here: above it a word is "very common"
RANK_CAP = 5000  # candidates ranked per query at most (only when every word is very common)
# A word the planner's statistics put in this many chunks is very common without counting them
# (counting reads every chunk with the word from the index, the larger part of a common word's cost).
# The margin over COMMON_DF keeps the answer the count would give unless the statistics are far
# behind the table.
SURELY_COMMON_DF = 5 * COMMON_DF
BM25_K1 = 1.2  # how fast repeating a word stops adding to a chunk's score
BM25_B = 0.75  # how much a longer chunk's occurrences are discounted
# ts_rank's own constant: sum(1/i^2) for i >= 1, by which it divides the sum over a word's positions
_ZETA2 = 1.64493406685
# A word's occurrences in a chunk, from ts_rank of the word alone with every weight 1 (see above):
# with S = sum(1/i^2, i <= tf), pi^2/6 - S is about 1/(tf + 1/2), so the rounding is exact.
TERM_FREQUENCY_SQL = (
    f"round(1 / ({_ZETA2} - CAST(ts_rank('{{{{1,1,1,1}}}}', c.search_vector, idf.term) AS float8) * {_ZETA2})"
    " - 0.5)"
)

_SQL = (
    "WITH q AS MATERIALIZED (SELECT cfg::regconfig AS config, websearch_to_tsquery(cfg::regconfig, :q) "
    "AS query FROM unnest(CAST(:configs AS text[])) AS cfg), "
    "terms AS MATERIALIZED (SELECT DISTINCT q.config, quote_literal(t.lexeme)::tsquery AS term, t.lexeme "
    "FROM q CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector(q.config, :plain))) AS t(lexeme)), "
    # the planner's statistics: the most common words' shares of a sample of the chunks
    "stats AS MATERIALIZED (SELECT e.lexeme, e.share FROM pg_stats s CROSS JOIN LATERAL "
    "unnest(CAST(CAST(s.most_common_elems AS text) AS text[]), s.most_common_elem_freqs) AS e(lexeme, share) "
    "WHERE CAST(:statistics AS boolean) AND s.schemaname = current_schema() AND s.tablename = 'chunks' "
    "AND s.attname = 'search_vector'), "
    "df AS MATERIALIZED (SELECT terms.config, terms.term, CASE WHEN (SELECT stats.share FROM stats "
    "WHERE stats.lexeme = terms.lexeme) * :total >= :surely_common THEN CAST(:common AS bigint) "
    "ELSE (SELECT count(*) FROM (SELECT 1 FROM chunks x WHERE x.search_config = terms.config "
    "AND x.search_vector @@ terms.term LIMIT :common) AS sample) END AS df FROM terms), "
    # never negative, and falling with the frequency even where the row estimate is stale
    "idf AS MATERIALIZED (SELECT config, term, df, ln(1 + (:total + 0.5) / (df + 0.5)) AS weight "
    "FROM df WHERE df > 0), "
    # candidates: chunks with any word that is not very common (or any word, when all are)
    "pick AS MATERIALIZED (SELECT config, string_agg(term::text, ' | ')::tsquery AS query FROM idf "
    "WHERE df < :common OR NOT EXISTS (SELECT 1 FROM idf rare WHERE rare.config = idf.config "
    "AND rare.df < :common) GROUP BY config), "
    # scored as they are found: the text-search vectors are read once and never copied
    "scored AS MATERIALIZED (SELECT c.id, c.document_id, coalesce((SELECT sum(idf.weight * f.tf * "
    "(:k1 + 1) / (f.tf + :k1 * (1 - :b + :b * length(c.search_vector) / :average_length))) FROM idf "
    f"CROSS JOIN LATERAL (SELECT {TERM_FREQUENCY_SQL} AS tf) AS f "
    "WHERE idf.config = c.search_config), 0) AS score "
    "FROM {source} JOIN chunks c ON c.search_config = {source}.config AND c.search_vector @@ {source}.query "
    f"{{joins}} WHERE true {{where}} LIMIT {RANK_CAP}), "
    # a document: its best chunk plus the evidence of its next ones (search.ranking.documents, in SQL so
    # that only the documents a page can reach leave the server)
    "ranked AS (SELECT id, document_id, score, row_number() OVER (PARTITION BY document_id "
    'ORDER BY score DESC, id COLLATE "C") AS r FROM scored) '
    "SELECT document_id, min(id) FILTER (WHERE r = 1) AS chunk_id, max(score) FILTER (WHERE r = 1) "
    "+ :evidence * coalesce(sum(greatest(score, 0) * (CAST(:factors AS float8[]))[r - 1] ORDER BY r) "
    "FILTER (WHERE r BETWEEN 2 AND :evidence_chunks), 0) AS score "
    "FROM ranked GROUP BY document_id ORDER BY score DESC, document_id LIMIT :keep"
)


def plain_words(query: str) -> bool:
    """True for plain words; False when the user wrote search syntax whose meaning must be kept.
    Only OR in capitals is the operator (as in web search engines): "cancel or kill a query" is a
    question in words, not a request for either half."""
    words = query.split()
    return '"' not in query and not any(w.startswith("-") or w == "OR" for w in words)


def scored_words(query: str) -> str:
    """The words that score a match: the query without excluded words, quotes and OR."""
    words = [w for w in query.replace('"', " ").split() if not w.startswith("-") and w != "OR"]
    return " ".join(words)


# A sample of about this many chunks measures the average length of a large table
LENGTH_SAMPLE_CHUNKS = 5000


def average_chunk_length(conn: Connection) -> float:
    """The mean `length(search_vector)` of the chunks: exact for a small table, else from a fixed
    sample of the table's blocks (REPEATABLE: the same table gives the same figure, so rankings do not
    move between two pages of results)."""
    total = conn.execute(
        text("SELECT greatest(reltuples, 0) FROM pg_class WHERE relname = 'chunks'")
    ).scalar()
    share = 100.0 if not total or total <= 2 * LENGTH_SAMPLE_CHUNKS else 100.0 * LENGTH_SAMPLE_CHUNKS / total
    sample = "" if share >= 100.0 else f"TABLESAMPLE SYSTEM ({share:.6f}) REPEATABLE (0)"
    found = conn.execute(text(f"SELECT avg(length(search_vector)) FROM chunks {sample}")).scalar()
    if found is None and sample:  # an unlucky sample of empty blocks
        found = conn.execute(text("SELECT avg(length(search_vector)) FROM chunks")).scalar()
    return float(found or 1.0)


def keyword_documents(
    conn: Connection,
    query: str,
    configs: list[str],
    where: list[str],
    params: dict[str, Any],
    evidence: Evidence,
    keep: int,
    *,
    average_length: float,
    statistics: bool = False,
) -> list[DocumentScore]:
    """The best `keep` documents by the scores of their matching chunks (up to RANK_CAP chunks),
    best first, ties to the smaller document id: `ranking.documents` of the chunks' scores.

    `statistics`: every chunk has the one configuration in `configs`, so the column's statistics are
    that configuration's and may tell a very common word without counting its chunks.
    `average_length`: the mean length (distinct words, `length(search_vector)`) of a chunk, BM25's
    reference length (`average_chunk_length`)."""
    source = "pick" if plain_words(query) else "q"  # syntax: matched as written, scored by its words
    total = conn.execute(
        text("SELECT greatest(reltuples, 1) FROM pg_class WHERE relname = 'chunks'")
    ).scalar()
    # Without filters every chunk has its document, page and source (foreign keys, not null): the
    # joins would only cost a lookup per candidate.
    sql = _SQL.format(source=source, joins=JOINS if where else "", where="".join(" AND " + w for w in where))
    factors, factor = [], 1.0
    for _ in range(max(evidence.chunks - 1, 1)):
        factors.append(factor)  # the same products as ranking.documents, so the same scores
        factor *= evidence.decay
    values = params | {
        "q": query,
        "plain": scored_words(query),
        "configs": configs,
        "common": COMMON_DF,
        "statistics": statistics and len(configs) == 1,
        "surely_common": SURELY_COMMON_DF,
        "total": float(total or 1),
        "k1": BM25_K1,
        "b": BM25_B,
        "average_length": max(average_length, 1.0),
        "evidence": evidence.weight,
        "evidence_chunks": evidence.chunks,
        "factors": factors,
        "keep": keep,
    }
    rows = conn.execute(text(sql), values).all()
    return [DocumentScore(r.document_id, float(r.score), r.chunk_id) for r in rows]


def highlight_query(query: str) -> str:
    """The websearch query whose words a snippet highlights: any word of a plain query."""
    words = query.split()
    return " or ".join(words) if plain_words(query) and len(words) > 1 else query
