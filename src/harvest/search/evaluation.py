"""Search quality on labelled queries: nDCG@10, recall@10/100 and MRR per mode, computed by pytrec_eval
(the reference trec_eval implementation)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from harvest.errors import InvalidInputError
from harvest.search.engine import Searcher
from harvest.search.request import MODES, Filters, Mode, SearchRequest
from harvest.search.results import SearchHit

DEVSET_DIR = Path(__file__).resolve().parent.parent / "demo" / "devset"
MEASURES = {
    "ndcg_cut_10": "ndcg@10",
    "recall_10": "recall@10",
    "recall_100": "recall@100",
    "recip_rank": "mrr",
}


@dataclass(frozen=True)
class ModeScores:
    mode: str
    queries: int
    means: dict[str, float]  # measure label → mean over queries
    per_query: dict[str, dict[str, float]]


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


def _doc_key(hit: SearchHit, judged: dict[str, int]) -> str:
    for key in (str(hit.document_id), hit.url, urlsplit(hit.url).path):
        if key in judged:
            return key
    return hit.url


def evaluate(
    searcher: Searcher,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    modes: Iterable[Mode] = MODES,
    *,
    filters: Filters | None = None,
    on_query: Callable[[str, str], None] | None = None,
) -> list[ModeScores]:
    import pytrec_eval

    judged = {qid: judgements for qid, judgements in qrels.items() if qid in queries}
    if not judged:
        raise InvalidInputError("no query id of the queries file appears in the qrels file")
    evaluator = pytrec_eval.RelevanceEvaluator(judged, set(MEASURES))
    results = []
    for mode in modes:
        run: dict[str, dict[str, float]] = {}
        for qid in judged:
            if on_query is not None:
                on_query(mode, qid)
            found = searcher.search(
                SearchRequest(queries[qid], mode, limit=100, filters=filters or Filters())
            )
            # scores from rank, so ties never reorder what the engine returned
            run[qid] = {
                _doc_key(hit, judged[qid]): 1.0 / rank for rank, hit in enumerate(found.hits, start=1)
            }
        per_query = evaluator.evaluate(run)
        means = {
            label: sum(scores[measure] for scores in per_query.values()) / len(per_query)
            for measure, label in MEASURES.items()
        }
        results.append(ModeScores(mode, len(per_query), means, per_query))
    return results
