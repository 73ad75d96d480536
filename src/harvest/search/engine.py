"""The search engine: chunk candidates from pgvector (HNSW) and PostgreSQL full text, ranked as documents
(search.ranking: a page's evidence, RRF fusion, pages independent of their size), with highlighted
snippets."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, text

from harvest.db.engine import get_engine
from harvest.embeddings.backend import Encoder, get_encoder
from harvest.embeddings.client import EmbeddingsUnavailableError
from harvest.embeddings.store import active_model
from harvest.errors import ConflictError, InvalidInputError, NotFoundError
from harvest.search.keyword import JOINS, average_chunk_length, highlight_query, keyword_documents
from harvest.search.ranking import TIERS, ChunkScore, DocumentScore, Evidence, documents, fuse, tiered
from harvest.search.request import MAX_WINDOW, Filters, SearchRequest, check_page
from harvest.search.results import SearchHit as SearchHit  # re-exported: where callers look for them
from harvest.search.results import SearchResults as SearchResults
from harvest.search.snippets import HEADLINE_OPTIONS, safe_snippet
from harvest.search.text_config import text_config
from harvest.settings import Settings

logger = logging.getLogger(__name__)

CONFIG_CACHE_S = 30.0
VECTOR_MIN_DEPTH = 100  # chunks read from the HNSW index at least
VECTOR_MAX_DEPTH = 20_000


@dataclass(frozen=True)
class _Candidate:
    chunk_id: str
    document_id: int
    score: float


@dataclass(frozen=True)
class _Model:
    id: int
    name: str
    dimension: int


class Searcher:
    """Answers searches against one database; keeps the query encoder loaded between searches."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or get_engine(settings)
        self._encoders: dict[str, Encoder] = {}
        self._lock = threading.Lock()
        self._configs: tuple[float, list[str]] = (0.0, [])
        self._average_length: tuple[float, float] = (0.0, 0.0)

    # -- public -------------------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResults:
        started = time.perf_counter()
        request = request.validated(self.settings.search_max_query_chars)
        window = request.offset + request.limit
        warnings: list[str] = []
        with self.engine.connect() as conn:
            self._check_sources(conn, request.filters)
            model = self._model(conn)
            query_vector: str | None = None
            if request.mode in {"vector", "hybrid"}:
                if model is None:
                    if request.mode == "vector":
                        raise ConflictError(
                            "no embeddings yet: embed the chunks before a vector search",
                            hint="run `harvest embed`",
                        )
                    warnings.append("no embeddings yet: hybrid search used keywords only")
                else:
                    try:
                        query_vector = (
                            self._vector_literal(model, request.vector)
                            if request.vector is not None
                            else self._encode(model, request.query)
                        )
                    except EmbeddingsUnavailableError as error:
                        if request.mode == "vector":
                            raise
                        warnings.append(f"embeddings unavailable ({error.message}): keywords only")
            keyword: list[DocumentScore] | None = None
            if request.mode in {"keyword", "hybrid"}:
                keyword = self._keyword_documents(conn, request.query, request.filters)

            def rank_tier(size: int) -> tuple[list[DocumentScore], bool]:
                vector: list[DocumentScore] | None = None
                vector_done = True
                if query_vector is not None and model is not None:
                    ef = request.ef_search or self.settings.search_ef_search
                    vector, vector_done = self._vector_documents(
                        conn, model, query_vector, request.filters, size, ef
                    )
                keyword_done = keyword is None or len(keyword) <= size
                lists = {
                    name: found[:size]
                    for name, found in (("vector", vector), ("keyword", keyword))
                    if found is not None
                }
                if len(lists) == 1:
                    name, found = next(iter(lists.items()))
                    ranked = [
                        DocumentScore(d.document_id, d.score, d.chunk_id, {name: i})
                        for i, d in enumerate(found, start=1)
                    ]
                else:
                    ranked = fuse(lists, self._weights(request), self.settings.search_rrf_k)
                return ranked, vector_done and keyword_done

            ranked = tiered(window, rank_tier)
            page = ranked[request.offset : window]
            hits = self._hits(conn, page, request.query)
        more = len(ranked) > window and window < MAX_WINDOW
        return SearchResults(
            request.query,
            request.mode,
            model.name if model else None,
            hits,
            request.limit,
            request.offset,
            window if more else None,
            (time.perf_counter() - started) * 1000,
            warnings,
        )

    def similar(
        self, document_id: int, *, limit: int = 10, offset: int = 0, filters: Filters | None = None
    ) -> SearchResults:
        """Documents whose meaning is closest to this one's (mean of its chunk vectors)."""
        started = time.perf_counter()
        check_page(limit, offset)
        filters = filters or Filters()
        window = offset + limit
        with self.engine.connect() as conn:
            self._check_sources(conn, filters)
            row = conn.execute(
                text("SELECT id, duplicate_of_id FROM documents WHERE id = :id"), {"id": document_id}
            ).first()
            if row is None:
                raise NotFoundError(f"no document {document_id}")
            canonical = row.duplicate_of_id or row.id
            model = self._model(conn)
            if model is None:
                raise ConflictError("no embeddings yet: embed the chunks first", hint="run `harvest embed`")
            mean = conn.execute(
                text(
                    f"SELECT avg(e.embedding::vector({model.dimension}))::text FROM chunk_embeddings e "
                    f"JOIN chunks c ON c.id = e.chunk_id WHERE e.model_id = {model.id} "
                    "AND c.document_id = :doc"
                ),
                {"doc": canonical},
            ).scalar()
            if mean is None:
                raise ConflictError(
                    f"document {document_id} has no vectors for model {model.name!r} yet "
                    "(it has no chunks, or embedding has not reached it yet)"
                )
            candidates = self._vector_candidates(
                conn,
                model,
                mean,
                filters,
                _candidate_depth(window + 1),
                self.settings.search_ef_search,
                exclude_document=canonical,
            )
            ranked = [
                DocumentScore(c.document_id, c.score, c.chunk_id, {"vector": rank})
                for rank, c in enumerate(_best_per_document(candidates), start=1)
                if c.document_id != document_id
            ]
            hits = self._hits(conn, ranked[offset:window], None)
        more = len(ranked) > window and window < MAX_WINDOW
        return SearchResults(
            None,
            "similar",
            model.name,
            hits,
            limit,
            offset,
            window if more else None,
            (time.perf_counter() - started) * 1000,
        )

    # -- candidates ---------------------------------------------------------------------------------

    def _vector_candidates(
        self,
        conn: Connection,
        model: _Model,
        query_vector: str,
        filters: Filters,
        depth: int,
        ef_search: int,
        *,
        exclude_document: int | None = None,
    ) -> list[_Candidate]:
        where, params = _filter_sql(filters)
        if exclude_document is not None:
            where.append("d.id <> :exclude")
            params["exclude"] = exclude_document
        # ids and dimension are inlined (integers from our own table) so the planner can match the
        # model's partial HNSW index, whatever the driver does with prepared statements.
        distance = f"(e.embedding::vector({model.dimension}) <=> CAST(:qv AS vector({model.dimension})))"
        sql = (
            f"SELECT e.chunk_id, c.document_id, {distance} AS distance "
            f"FROM chunk_embeddings e JOIN chunks c ON c.id = e.chunk_id {JOINS} "
            f"WHERE e.model_id = {model.id} {''.join(' AND ' + w for w in where)} "
            f"ORDER BY {distance} LIMIT :depth"
        )
        params |= {"qv": query_vector, "depth": depth}
        # transaction-local settings: the connection's transaction ends when the search does
        # Filters drop index results; an iterative scan keeps reading the graph until `depth`
        # rows pass them instead of returning fewer.
        conn.execute(text("SELECT set_config('hnsw.ef_search', :ef, true)"), {"ef": str(ef_search)})
        conn.execute(text("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)"))
        rows = conn.execute(text(sql), params).all()
        candidates = [_Candidate(r.chunk_id, r.document_id, 1.0 - float(r.distance)) for r in rows]
        candidates.sort(key=lambda c: -c.score)  # relaxed order: nearly sorted, make it exact
        return candidates

    def _vector_documents(
        self,
        conn: Connection,
        model: _Model,
        query_vector: str,
        filters: Filters,
        size: int,
        ef_search: int,
    ) -> tuple[list[DocumentScore], bool]:
        """The `size` best documents by their chunks' similarity, reading deeper until that many
        documents are among the chunks read; and whether every chunk was read."""
        depth = max(4 * size, VECTOR_MIN_DEPTH)
        while True:
            candidates = self._vector_candidates(conn, model, query_vector, filters, depth, ef_search)
            exhausted = len(candidates) < depth
            found = documents(
                [ChunkScore(c.chunk_id, c.document_id, c.score) for c in candidates], self._evidence()
            )
            if len(found) >= size or exhausted or depth >= VECTOR_MAX_DEPTH:
                return found[:size], exhausted and len(found) <= size
            depth = min(depth * 2, VECTOR_MAX_DEPTH)

    def _keyword_documents(self, conn: Connection, query: str, filters: Filters) -> list[DocumentScore]:
        where, params = _filter_sql(filters)
        in_use = self._configs_in_use(conn)
        configs = (
            sorted({text_config(language) for language in filters.languages}) if filters.languages else in_use
        )
        # the deepest tier, and one more document to tell whether the list goes on beyond it
        return keyword_documents(
            conn,
            query,
            configs,
            where,
            params,
            self._evidence(),
            TIERS[-1] + 1,
            average_length=self._chunk_length(conn),
            statistics=len(in_use) == 1 and configs == in_use,
        )

    def _evidence(self) -> Evidence:
        return Evidence(weight=self.settings.search_chunk_evidence)

    def _weights(self, request: SearchRequest) -> dict[str, float]:
        return {
            "vector": self.settings.search_vector_weight
            if request.vector_weight is None
            else request.vector_weight,
            "keyword": self.settings.search_keyword_weight
            if request.keyword_weight is None
            else request.keyword_weight,
        }

    # -- results ------------------------------------------------------------------------------------

    def _hits(self, conn: Connection, page: list[DocumentScore], query: str | None) -> list[SearchHit]:
        if not page:
            return []
        headline = (
            "ts_headline(c.search_config, c.text, websearch_to_tsquery(c.search_config, :q), :opts)"
            if query
            else "left(c.text, 320)"
        )
        rows = conn.execute(
            text(
                f"SELECT c.id, c.heading, c.document_id, d.title, d.url, d.language, d.published_at, "
                f"p.last_fetched_at, s.name AS source, {headline} AS headline "
                f"FROM chunks c {JOINS} WHERE c.id = ANY(:ids)"
            ),
            # every word of a plain query is highlighted, also where a chunk has only some of them
            {
                "ids": [d.chunk_id for d in page],
                "q": highlight_query(query) if query else None,
                "opts": HEADLINE_OPTIONS,
            },
        ).all()
        by_id = {row.id: row for row in rows}
        hits = []
        for candidate in page:
            row = by_id.get(candidate.chunk_id)
            if row is None:  # re-processed between the two queries: drop rather than fail
                continue
            hits.append(
                SearchHit(
                    document_id=row.document_id,
                    chunk_id=row.id,
                    score=round(candidate.score, 6),
                    title=row.title,
                    url=row.url,
                    source=row.source,
                    language=row.language,
                    heading=row.heading,
                    snippet=safe_snippet(row.headline or ""),
                    published_at=row.published_at,
                    fetched_at=row.last_fetched_at,
                    ranks=candidate.ranks,
                )
            )
        return hits

    # -- helpers ------------------------------------------------------------------------------------

    def _model(self, conn: Connection) -> _Model | None:
        found = active_model(conn)
        return None if found is None else _Model(*found)

    def load_model(self, *, fallback: bool = True) -> str | None:
        """Load the query encoder now and encode once, so that the first search does not pay for it:
        the active model's, else (with `fallback`) the configured one, which embedding will create.
        Returns its name (None: no active model and no fallback)."""
        with self.engine.connect() as conn:
            model = self._model(conn)
        if model is None and not fallback:
            return None
        with self._lock:
            encoder = self._encoders.get(model.name) if model else None
            if encoder is None:
                encoder = get_encoder(self.settings, model.name if model else None)
                self._encoders[encoder.name] = encoder
        encoder.encode(["warm up"])
        return encoder.name

    def model_loaded(self, name: str) -> bool:
        return name in self._encoders

    def _encode(self, model: _Model, query: str) -> str:
        with self._lock:
            encoder = self._encoders.get(model.name)
            if encoder is None:
                encoder = self._encoders[model.name] = get_encoder(self.settings, model.name)
        vector = np.asarray(encoder.encode([query]).vectors[0], dtype=np.float32)
        if vector.shape[0] != model.dimension:
            raise ConflictError(
                f"the encoder for {model.name!r} returns {vector.shape[0]} dimensions; the stored vectors "
                f"have {model.dimension}"
            )
        return self._vector_literal(model, vector.tolist())

    def _vector_literal(self, model: _Model, vector: Sequence[float]) -> str:
        if len(vector) != model.dimension:
            raise InvalidInputError(
                f"the vector has {len(vector)} dimensions; the active model {model.name!r} has "
                f"{model.dimension}"
            )
        return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"

    def nearest_chunks(
        self, vector: Sequence[float], k: int = 10, ef_search: int | None = None
    ) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the k nearest chunks under the active model's HNSW index,
        without filters or grouping by document (what the search benchmark checks against an exact scan)."""
        check_page(k, 0)
        with self.engine.connect() as conn:
            model = self._model(conn)
            if model is None:
                raise ConflictError("no embeddings yet: embed the chunks first", hint="run `harvest embed`")
            found = self._vector_candidates(
                conn,
                model,
                self._vector_literal(model, vector),
                Filters(),
                k,
                ef_search or self.settings.search_ef_search,
            )
        return [(c.chunk_id, c.score) for c in found]

    def _configs_in_use(self, conn: Connection) -> list[str]:
        cached_at, configs = self._configs
        if configs and time.monotonic() - cached_at < CONFIG_CACHE_S:
            return configs
        languages = conn.execute(text("SELECT DISTINCT language FROM documents")).scalars().all()
        # A chunk's configuration is its document's language's (process.persist.replace_chunks): a
        # configuration no document maps to has no chunks, and counting a word's chunks under it would
        # read every chunk with the word only to find none of that configuration.
        configs = sorted({text_config(language) for language in languages})
        self._configs = (time.monotonic(), configs)
        return configs

    def _chunk_length(self, conn: Connection) -> float:
        """BM25's reference chunk length, measured again at most every CONFIG_CACHE_S seconds."""
        cached_at, length = self._average_length
        if length and time.monotonic() - cached_at < CONFIG_CACHE_S:
            return length
        length = average_chunk_length(conn)
        self._average_length = (time.monotonic(), length)
        return length

    def _check_sources(self, conn: Connection, filters: Filters) -> None:
        if filters.entities:
            known_entities = set(
                conn.execute(
                    text("SELECT id FROM entities WHERE id = ANY(:ids)"), {"ids": list(filters.entities)}
                ).scalars()
            )
            for entity in filters.entities:
                if entity not in known_entities:
                    raise NotFoundError(f"no entity {entity}", hint="see `harvest entities search`")
        if not filters.sources:
            return
        known = set(
            conn.execute(
                text("SELECT name FROM sources WHERE name = ANY(:names)"), {"names": list(filters.sources)}
            ).scalars()
        )
        missing = [name for name in filters.sources if name not in known]
        if missing:
            raise NotFoundError(f"no source named {missing[0]!r}", hint="see `harvest source list`")


def _candidate_depth(window: int) -> int:
    # Several chunks of one page compete for places; read enough to fill the page with distinct pages.
    return min(max(4 * window, VECTOR_MIN_DEPTH), VECTOR_MAX_DEPTH)


def _best_per_document(candidates: list[_Candidate]) -> list[_Candidate]:
    seen: set[int] = set()
    best = []
    for candidate in candidates:
        if candidate.document_id not in seen:
            seen.add(candidate.document_id)
            best.append(candidate)
    return best


def _filter_sql(filters: Filters) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if filters.sources:
        where.append("s.name = ANY(:f_sources)")
        params["f_sources"] = list(filters.sources)
    if filters.languages:
        where.append("lower(split_part(replace(d.language, '_', '-'), '-', 1)) = ANY(:f_languages)")
        params["f_languages"] = sorted(
            {lang.lower().replace("_", "-").split("-")[0] for lang in filters.languages}
        )
    if filters.date_from:
        where.append("coalesce(d.published_at, p.last_fetched_at) >= :f_date_from")
        params["f_date_from"] = filters.date_from
    if filters.date_to and filters.date_to < date.max:  # on or before the last day: no upper bound
        where.append("coalesce(d.published_at, p.last_fetched_at) < :f_date_to")
        params["f_date_to"] = filters.date_to + timedelta(days=1)
    for i, entity in enumerate(filters.entities):
        where.append(
            f"d.id IN (SELECT m.document_id FROM entity_mentions m JOIN entities e ON e.id = m.entity_id "
            f"WHERE e.cluster_id = (SELECT coalesce(cluster_id, id) FROM entities WHERE id = :f_entity_{i}))"
        )
        params[f"f_entity_{i}"] = entity
    for i, item in enumerate(filters.predicted):
        model, _, label = item.partition("=")
        # the model's latest prediction for the document (any version), by its label(s)
        where.append(
            f"d.id IN (SELECT lp.document_id FROM (SELECT DISTINCT ON (document_id) document_id, labels "
            f"FROM predictions WHERE model_name = :f_pmodel_{i} ORDER BY document_id, id DESC) lp "
            f"WHERE :f_plabel_{i} = ANY(lp.labels))"
        )
        params |= {f"f_pmodel_{i}": model, f"f_plabel_{i}": label}
    for i, (key, value) in enumerate(filters.label_pairs):
        if value is None:
            where.append(f"jsonb_exists(s.labels, :f_label_{i})")
            params[f"f_label_{i}"] = key
        else:
            where.append(f"s.labels ->> :f_label_{i} = :f_value_{i}")
            params |= {f"f_label_{i}": key, f"f_value_{i}": value}
    return where, params
