"""Search quality on real documentation sites: Harvest end to end against a plain peer pipeline.

  .venv/bin/pip install -c constraints.txt -e ".[bench]"     # bm25s + PyStemmer for the peer
  apt-get install -y --no-install-recommends python-django-doc postgresql-doc-15
  .venv/bin/python bench/search_quality.py                   # both dev sets, whole sites
  .venv/bin/python bench/search_quality.py --quick           # judged pages + a sample of the others
  .venv/bin/python bench/search_quality.py --sites django --data-dir /tmp/sq --misses

Each site (bench/devsets/<site>/: queries.jsonl, qrels.tsv, README.md) is served from its Debian
package's HTML on 127.0.0.1 and, in the same run:
  Harvest   `harvest crawl` → `harvest process` → `harvest embed` (default model) → `Searcher.search`
            in vector, keyword and hybrid mode, scored by `harvest eval search`'s own code;
  peer      the same raw pages (read back from Harvest's raw store) → `trafilatura.extract` → 200-word
            chunks → BM25 (bm25s, English stop words and Snowball stemmer) and all-MiniLM-L6-v2
            (sentence-transformers, normalised) over chunks → RRF (k=60) of the two top-100 chunk lists;
            a page ranks where its best chunk does.
Printed per site and mode: MRR@10, nDCG@10, recall@10; chunks and embedding seconds of both. The RESULT
line averages the sites (each site counts once); the chunk and time ratios are over all sites.

--data-dir keeps the stores and the peer's vectors between runs (later runs only redo what changed and
report the embedding time measured when the vectors were made) — for tuning, not for the figures.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
from sqlalchemy import text

from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.search.engine import Searcher
from harvest.search.evaluation import evaluate, load_qrels, load_queries, normalise_doc_key, score_rankings
from harvest.search.request import MODES
from harvest.settings import Settings, load_settings

DEVSETS = Path(__file__).resolve().parent / "devsets"
SITES = {
    "django": ("/usr/share/doc/python-django-doc/html", "python-django-doc"),
    "postgresql": ("/usr/share/doc/postgresql-doc-15/html", "postgresql-doc-15"),
}
PEER_WORDS = 200
PEER_DEPTH = 100
RRF_K = 60
QUICK_OTHERS = 60  # pages besides the judged ones in --quick
MEASURES = ("mrr@10", "ndcg@10", "recall@10")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def serve(root: str, port: int) -> Iterator[str]:
    handler = partial(_QuietHandler, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SiteRun:
    name: str
    pages: int
    documents: int
    skipped: int
    harvest_chunks: int
    harvest_embed_s: float
    peer_chunks: int
    peer_embed_s: float
    scores: dict[str, dict[str, float]]  # "harvest vector", "peer rrf", … → measure → mean
    per_query: dict[str, dict[str, list[str]]]  # system → qid → ranked paths (for --misses)


def quick_pages(root: Path, qrels: dict[str, dict[str, int]]) -> list[str]:
    judged = {doc for judgements in qrels.values() for doc in judgements}
    others = sorted(
        "/" + str(p.relative_to(root))
        for p in root.rglob("*.html")
        if "/" + str(p.relative_to(root)) not in judged
    )
    return sorted(judged) + random.Random(5).sample(others, min(QUICK_OTHERS, len(others)))


def harvest_side(settings: Settings, site: str, base: str, start_paths: list[str] | None) -> dict[str, float]:
    from harvest.crawl.runner import run_crawl
    from harvest.crawl.sources import apply_sources
    from harvest.crawl.spec import parse_spec
    from harvest.embeddings.stage import embed_pending
    from harvest.process.runner import process_pending

    spec = {
        "name": site,
        "start_urls": [f"{base}{p}" for p in start_paths] if start_paths else [f"{base}/index.html"],
        "max_pages": 5000,
        "concurrency": 8,
    }
    if start_paths:
        spec["max_depth"] = 0
    apply_sources(get_engine(settings), [parse_spec(spec)])
    started = time.perf_counter()
    run = run_crawl(settings, site)
    crawl_s = time.perf_counter() - started
    started = time.perf_counter()
    report = process_pending(settings, site)
    process_s = time.perf_counter() - started
    embedded = embed_pending(settings)
    print(
        f"  harvest: crawled {run.counts.get('fetched', 0)} pages in {crawl_s:.1f} s, "
        f"processed {report.processed} in {process_s:.1f} s, "
        f"embedded {embedded.embedded} chunks in {embedded.seconds:.1f} s",
        flush=True,
    )
    return {"embedded": embedded.embedded, "embed_s": embedded.seconds}


def peer_side(
    settings: Settings, site: str, cache: Path, queries: dict[str, str]
) -> tuple[dict[str, dict[str, list[str]]], int, float]:
    """The peer's rankings (system → qid → page paths), chunk count and embedding seconds."""
    import bm25s
    import Stemmer
    import trafilatura
    from sentence_transformers import SentenceTransformer

    from harvest.model_files import model_dir
    from harvest.storage import open_raw_store

    with get_engine(settings).connect() as conn:
        pages = conn.execute(
            text(
                "SELECT p.url, p.version FROM pages p JOIN sources s ON s.id = p.source_id "
                "WHERE s.name = :s AND p.version > 0 AND p.state = 'active' ORDER BY p.url"
            ),
            {"s": site},
        ).all()
    with open_raw_store(settings) as raw:
        bodies = raw.get_many((site, p.url, p.version) for p in pages)
    chunks: list[str] = []
    owners: list[str] = []
    for page in pages:
        stored = bodies.get((site, page.url, page.version))
        extracted = trafilatura.extract(stored.body, url=page.url) if stored else None
        words = (extracted or "").split()
        for start in range(0, len(words), PEER_WORDS):
            chunks.append(" ".join(words[start : start + PEER_WORDS]))
            owners.append(normalise_doc_key(page.url))
    model = SentenceTransformer(str(model_dir(settings.embedding_model)), device="cpu")
    cached = cache / f"peer-{site}.npz"
    if cached.exists() and json.loads(str(np.load(cached)["meta"])) == {"chunks": len(chunks)}:
        vectors = np.load(cached)["vectors"]
        embed_s = float(np.load(cached)["seconds"])
    else:
        started = time.perf_counter()
        vectors = model.encode(chunks, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        embed_s = time.perf_counter() - started
        np.savez(cached, vectors=vectors, seconds=embed_s, meta=json.dumps({"chunks": len(chunks)}))
    print(f"  peer: {len(pages)} pages, {len(chunks)} chunks, embedded in {embed_s:.1f} s", flush=True)

    stemmer = Stemmer.Stemmer("english")
    retriever = bm25s.BM25()
    retriever.index(
        bm25s.tokenize(chunks, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False
    )
    qids = list(queries)
    tokens = bm25s.tokenize([queries[q] for q in qids], stopwords="en", stemmer=stemmer, show_progress=False)
    found, _ = retriever.retrieve(tokens, k=min(PEER_DEPTH, len(chunks)), show_progress=False)
    query_vectors = model.encode(
        [queries[q] for q in qids], normalize_embeddings=True, show_progress_bar=False
    )
    dense = np.argsort(-(query_vectors @ vectors.T), axis=1)[:, :PEER_DEPTH]
    rankings: dict[str, dict[str, list[str]]] = {"peer bm25": {}, "peer dense": {}, "peer rrf": {}}
    for row, qid in enumerate(qids):
        bm25_chunks = [int(i) for i in found[row]]
        dense_chunks = [int(i) for i in dense[row]]
        fused: dict[int, float] = {}
        for ranking in (bm25_chunks, dense_chunks):
            for rank, chunk in enumerate(ranking, start=1):
                fused[chunk] = fused.get(chunk, 0.0) + 1.0 / (RRF_K + rank)
        rrf_chunks = sorted(fused, key=lambda c: -fused[c])
        for system, ranked in (
            ("peer bm25", bm25_chunks),
            ("peer dense", dense_chunks),
            ("peer rrf", rrf_chunks),
        ):
            rankings[system][qid] = list(dict.fromkeys(owners[c] for c in ranked))
    return rankings, len(chunks), embed_s


def run_site(site: str, data_dir: Path, quick: bool) -> SiteRun:
    root, package = SITES[site]
    if not Path(root).is_dir():
        sys.exit(f"{root} is missing: apt-get install -y --no-install-recommends {package}")
    queries = load_queries(DEVSETS / site / "queries.jsonl")
    qrels = load_qrels(DEVSETS / site / "qrels.tsv")
    site_dir = data_dir / site
    site_dir.mkdir(parents=True, exist_ok=True)
    state_file = site_dir / "state.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {"port": free_port()}
    settings = load_settings(
        _env_file=None,
        data_dir=site_dir,
        crawl_allowed_hosts=["127.0.0.1"],
        log_level="WARNING",
    )
    print(f"{site}: {root}", flush=True)
    with serve(root, state["port"]) as base:
        start_paths = quick_pages(Path(root), qrels) if quick else None
        embedded = harvest_side(settings, site, base, start_paths)
    if embedded["embedded"]:
        state["harvest_embed_s"] = embedded["embed_s"]
    state_file.write_text(json.dumps(state))

    searcher = Searcher(settings)
    scores: dict[str, dict[str, float]] = {}
    per_query: dict[str, dict[str, list[str]]] = {}
    for result in evaluate(searcher, queries, qrels, MODES):
        scores[f"harvest {result.mode}"] = {m: result.means[m] for m in MEASURES}
        if result.unmatched:
            print(f"  judged pages not stored by Harvest: {', '.join(result.unmatched)}")
    for mode in MODES:  # the ranked paths, for --misses
        per_query[f"harvest {mode}"] = {
            qid: [normalise_doc_key(h.url) for h in searcher.search(_request(q, mode)).hits]
            for qid, q in queries.items()
        }
    peer, peer_chunks, peer_embed_s = peer_side(settings, site, site_dir, queries)
    for system, rankings in peer.items():
        means, _ = score_rankings(rankings, qrels)
        scores[system] = {m: means[m] for m in MEASURES}
        per_query[system] = rankings
    with get_engine(settings).connect() as conn:
        counts = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE skip_reason IS NULL AND duplicate_of_id IS NULL) AS docs, "
                "count(*) FILTER (WHERE skip_reason IS NOT NULL) AS skipped, count(*) AS pages, "
                "(SELECT count(*) FROM chunks) AS chunks FROM documents"
            )
        ).one()
    return SiteRun(
        site,
        counts.pages,
        counts.docs,
        counts.skipped,
        counts.chunks,
        float(state.get("harvest_embed_s", 0.0)),
        peer_chunks,
        peer_embed_s,
        scores,
        per_query,
    )


def _request(query: str, mode: str):  # type: ignore[no-untyped-def]
    from harvest.search.request import SearchRequest

    return SearchRequest(query, mode, limit=10)  # type: ignore[arg-type]


def report(run: SiteRun, misses: bool) -> None:
    print(
        f"{run.name}: {run.pages} pages → {run.documents} documents ({run.skipped} skipped); "
        f"chunks harvest {run.harvest_chunks} / peer {run.peer_chunks} = "
        f"{run.harvest_chunks / max(run.peer_chunks, 1):.2f}; "
        f"embedding harvest {run.harvest_embed_s:.1f} s / "
        f"peer {run.peer_embed_s:.1f} s = {run.harvest_embed_s / max(run.peer_embed_s, 1e-9):.2f}"
    )
    print(f"  {'':<16}" + "".join(f"{m:>11}" for m in MEASURES))
    for system, figures in run.scores.items():
        print(f"  {system:<16}" + "".join(f"{figures[m]:>11.3f}" for m in MEASURES))
    if misses:
        queries = load_queries(DEVSETS / run.name / "queries.jsonl")
        qrels = load_qrels(DEVSETS / run.name / "qrels.tsv")
        for system in ("harvest hybrid", "harvest keyword", "harvest vector"):
            for qid, ranked in run.per_query[system].items():
                relevant = qrels.get(qid, {})
                rank = next((i for i, p in enumerate(ranked[:10], 1) if relevant.get(p, 0) > 0), None)
                if rank != 1:
                    print(
                        f"    {system} {qid} rank {rank}: {queries[qid]!r} → {ranked[:3]} "
                        f"want {list(relevant)}"
                    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="judged pages + 60 others per site")
    parser.add_argument("--sites", default=",".join(SITES), help="comma-separated: django,postgresql")
    parser.add_argument("--data-dir", type=Path, help="keep stores and peer vectors here between runs")
    parser.add_argument("--misses", action="store_true", help="list queries whose first hit is not relevant")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="harvest-bench-quality-"))
    runs = []
    try:
        for site in args.sites.split(","):
            runs.append(run_site(site, data_dir, args.quick))
            dispose_engines()
            EmbeddedPostgres(data_dir / site).stop()
    finally:
        dispose_engines()
        for site in args.sites.split(","):
            if (data_dir / site).exists():
                EmbeddedPostgres(data_dir / site).stop()
        if args.data_dir is None:
            shutil.rmtree(data_dir, ignore_errors=True)
    for run in runs:
        report(run, args.misses)

    def mean(system: str) -> float:
        return sum(r.scores[system]["mrr@10"] for r in runs) / len(runs)

    chunks_ratio = sum(r.harvest_chunks for r in runs) / max(sum(r.peer_chunks for r in runs), 1)
    embed_ratio = sum(r.harvest_embed_s for r in runs) / max(sum(r.peer_embed_s for r in runs), 1e-9)
    per_site = " ".join(
        f"hybrid_mrr10_{r.name}={r.scores['harvest hybrid']['mrr@10']:.3f} "
        f"peer_rrf_mrr10_{r.name}={r.scores['peer rrf']['mrr@10']:.3f}"
        for r in runs
    )
    print(
        f"RESULT hybrid_mrr10={mean('harvest hybrid'):.3f} peer_rrf_mrr10={mean('peer rrf'):.3f} "
        f"vector_mrr10={mean('harvest vector'):.3f} keyword_mrr10={mean('harvest keyword'):.3f} "
        f"peer_dense_mrr10={mean('peer dense'):.3f} peer_bm25_mrr10={mean('peer bm25'):.3f} "
        f"chunks_ratio_vs_peer={chunks_ratio:.2f} embed_s_ratio_vs_peer={embed_ratio:.2f} {per_site}"
    )


if __name__ == "__main__":
    main()
