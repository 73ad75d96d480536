"""Search quality on labelled queries: nDCG@10, recall@10/100 (pytrec_eval, the reference trec_eval
implementation) and MRR@10 per mode."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import Engine, text

from harvest.errors import InvalidInputError
from harvest.search.engine import Searcher
from harvest.search.request import MODES, Filters, Mode, SearchRequest

DEVSET_DIR = Path(__file__).resolve().parent.parent / "demo" / "devset"
TREC_MEASURES = {"ndcg_cut_10": "ndcg@10", "recall_10": "recall@10", "recall_100": "recall@100"}
MRR_CUTOFF = 10  # MRR@10: the first relevant page on the first page of results, else 0
EVAL_DEPTH = 100


@dataclass(frozen=True)
class ModeScores:
    mode: str
    queries: int
    means: dict[str, float]  # measure label → mean over queries
    per_query: dict[str, dict[str, float]]
    unmatched: list[str] = field(default_factory=list)  # judged DOCs that are no stored document


def load_queries(path: Path) -> dict[str, str]:
    """`{"id": …, "query": …}` per line."""
    queries: dict[str, str] = {}
    for number, line in enumerate(_lines(path), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            qid, query = str(record["id"]), str(record["query"])
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise InvalidInputError(
                f'{path}, line {number}: expected {{"id": …, "query": …}} ({error})'
            ) from error
        if qid in queries:
            raise InvalidInputError(f"{path}, line {number}: query id {qid!r} appears twice")
        queries[qid] = query
    if not queries:
        raise InvalidInputError(f"{path} has no queries")
    return queries


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """TREC qrels: `QUERY_ID 0 DOC RELEVANCE` (or `QUERY_ID DOC RELEVANCE`), tab or space separated.
    DOC is a document id, a URL, or a URL path (`/articles/x`)."""
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(_lines(path), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        if len(parts) not in (3, 4):
            raise InvalidInputError(f"{path}, line {number}: expected QUERY_ID 0 DOC RELEVANCE")
        qid, doc, relevance = parts[0], parts[-2], parts[-1]
        try:
            qrels.setdefault(qid, {})[doc] = int(relevance)
        except ValueError as error:
            raise InvalidInputError(
                f"{path}, line {number}: relevance {relevance!r} is not an integer"
            ) from error
    if not qrels:
        raise InvalidInputError(f"{path} has no judgements")
    return qrels


def _lines(path: Path) -> Iterable[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError as error:
        raise InvalidInputError(f"{path} does not exist") from error
    except UnicodeDecodeError as error:
        raise InvalidInputError(f"{path} is not UTF-8 text") from error


def normalise_doc_key(key: str) -> str:
    """The form a qrels DOC is matched in: a document id as is, a URL or a path as `/path?query` (no
    fragment; a leading slash added where the file left it out)."""
    key = key.strip()
    if key.isdigit():
        return key
    parts = urlsplit(key)
    path = parts.path if parts.scheme else key.split("#", 1)[0].split("?", 1)[0]
    query = parts.query if parts.scheme else (key.split("#", 1)[0].partition("?")[2])
    path = "/" + path.lstrip("/")
    return path + (f"?{query}" if query else "")


def resolve_qrels(
    engine: Engine, qrels: dict[str, dict[str, int]], sources: tuple[str, ...] = ()
) -> tuple[dict[str, dict[str, int]], list[str]]:
    """Judgements keyed by stored (canonical) document id, and the judged DOCs that match no stored
    document. A DOC is a document id, a URL or a URL path; duplicates count as their canonical page."""
    keys = {doc for judgements in qrels.values() for doc in judgements}
    ids = [int(k) for k in keys if k.isdigit()]
    wanted = {normalise_doc_key(k) for k in keys if not k.isdigit()}
    where = "(d.id = ANY(:ids) OR d.url = ANY(:urls) OR " + _PATH_SQL + " = ANY(:paths))"
    if sources:
        where += " AND s.name = ANY(:sources)"
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT d.id, coalesce(d.duplicate_of_id, d.id) AS canonical, d.url, {_PATH_SQL} AS path "
                f"FROM documents d JOIN sources s ON s.id = d.source_id WHERE {where}"
            ),
            {
                "ids": ids,
                "urls": sorted(k for k in keys if "://" in k),
                "paths": sorted(wanted),
                "sources": list(sources),
            },
        ).all()
    found: dict[str, set[str]] = {}
    for row in rows:
        for key in (str(row.id), row.url, normalise_doc_key(row.url), row.path):
            found.setdefault(key, set()).add(str(row.canonical))
    resolved: dict[str, dict[str, int]] = {}
    unmatched: set[str] = set()
    for qid, judgements in qrels.items():
        for doc, relevance in judgements.items():
            matches = found.get(doc) or found.get(normalise_doc_key(doc))
            if not matches:
                unmatched.add(doc)
                continue
            for canonical in matches:
                previous = resolved.setdefault(qid, {}).get(canonical, relevance)
                resolved[qid][canonical] = max(previous, relevance)
    return resolved, sorted(unmatched)


# a document URL's path and query, as normalise_doc_key writes them
_PATH_SQL = (
    "coalesce(nullif(regexp_replace(split_part(d.url, '#', 1), '^[A-Za-z][A-Za-z0-9+.-]*://[^/?]*', ''), "
    "''), '/')"
)


def score_rankings(
    rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(means, per-query figures) of ranked document keys (best first) against judgements."""
    import pytrec_eval

    judged = {qid: judgements for qid, judgements in qrels.items() if qid in rankings}
    evaluator = pytrec_eval.RelevanceEvaluator(judged, set(TREC_MEASURES))
    # scores from rank, so ties never reorder what the engine returned
    run = {qid: {doc: 1.0 / rank for rank, doc in enumerate(rankings[qid], start=1)} for qid in judged}
    # pytrec_eval drops queries without any result; they score 0 on every measure
    evaluated = evaluator.evaluate({qid: docs for qid, docs in run.items() if docs})
    per_query: dict[str, dict[str, float]] = {}
    for qid in judged:
        figures = evaluated.get(qid, {})
        per_query[qid] = {label: float(figures.get(measure, 0.0)) for measure, label in TREC_MEASURES.items()}
        first = next(
            (
                rank
                for rank, doc in enumerate(rankings[qid][:MRR_CUTOFF], start=1)
                if judged[qid].get(doc, 0) > 0
            ),
            None,
        )
        per_query[qid][f"mrr@{MRR_CUTOFF}"] = 1.0 / first if first else 0.0
    labels = [*TREC_MEASURES.values(), f"mrr@{MRR_CUTOFF}"]
    means = {label: sum(q[label] for q in per_query.values()) / max(len(per_query), 1) for label in labels}
    return means, per_query


def evaluate(
    searcher: Searcher,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    modes: Iterable[Mode] = MODES,
    *,
    filters: Filters | None = None,
    on_query: Callable[[str, str], None] | None = None,
) -> list[ModeScores]:
    """Search every judged query in each mode (100 results) and score the rankings. Refuses judgements
    that match no stored document (wrong paths score 0 everywhere and would look like bad search)."""
    filters = filters or Filters()
    asked = {qid: judgements for qid, judgements in qrels.items() if qid in queries}
    if not asked:
        raise InvalidInputError("no query id of the queries file appears in the qrels file")
    judged, unmatched = resolve_qrels(searcher.engine, asked, filters.sources)
    if not judged:
        example = unmatched[0] if unmatched else "?"
        raise InvalidInputError(
            f"none of the {len(unmatched)} judged documents is a stored document (e.g. {example!r}); "
            "qrels name documents by id, URL or URL path such as /docs/page.html"
        )
    results = []
    for mode in modes:
        rankings: dict[str, list[str]] = {}
        for qid in asked:
            if on_query is not None:
                on_query(mode, qid)
            found = searcher.search(SearchRequest(queries[qid], mode, limit=EVAL_DEPTH, filters=filters))
            rankings[qid] = [str(hit.document_id) for hit in found.hits]
        # a query whose judged pages are all missing still counts, as a miss
        means, per_query = score_rankings(rankings, {qid: judged.get(qid, {}) for qid in asked})
        results.append(ModeScores(mode, len(per_query), means, per_query, unmatched))
    return results
