"""Search benchmark: HNSW recall against an exact scan, and latency of every mode in-process and over HTTP.

  .venv/bin/python bench/search.py           # 100,000 chunks (25,000 documents), 200 queries
  .venv/bin/python bench/search.py --quick   # 20,000 chunks, 100 queries, same measurement

Chunks get synthetic text (Zipf-distributed pseudo-words, so keyword search has common and rare terms)
and synthetic 384-dimensional vectors around 500 cluster centres (nearest neighbours are not trivial).
In the same run:
  (a) exact top-10 by sequential scan (index scans off): the ground truth and the latency baseline;
  (b) HNSW top-10 through `Searcher.nearest_chunks` at several ef_search: recall@10 against (a);
  (c) p50/p95 of vector, keyword and hybrid searches through `Searcher.search` (query vector given, so
      the figure is the search itself; encoding a query is bench/embed.py's business);
  (d) the same hybrid (and vector) search through the HTTP API (`harvest api serve`, its own process);
  (e) nDCG@10 / MRR of vector, keyword and hybrid on the bundled dev set (the demo site crawled,
      processed and embedded with the real model).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import numpy as np
from sqlalchemy import text

from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.embeddings.store import _create_index
from harvest.search.engine import Searcher
from harvest.search.request import SearchRequest
from harvest.settings import Settings, load_settings, settings_env

DIM = 384
CHUNKS_PER_DOC = 4
CENTRES = 500


def pseudo_words(count: int, rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "ten", "ra", "vos", "du", "pel", "shi", "an", "or", "bel", "qua", "zet"]
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def load_corpus(settings: Settings, chunks: int, rng: random.Random, vocab: list[str]) -> np.ndarray:
    """Sources, pages, documents and chunks by COPY; returns the centres the vectors were drawn around."""
    np_rng = np.random.default_rng(7)
    weights = 1.0 / np.arange(1, len(vocab) + 1)  # Zipf: a few very common words, a long tail
    weights /= weights.sum()
    docs = chunks // CHUNKS_PER_DOC
    engine = get_engine(settings)
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert conn is not None
        with conn.cursor() as cur:
            cur.execute("INSERT INTO sources (id, name) VALUES (1, 'bench')")
            with cur.copy("COPY pages (id, source_id, url, version) FROM STDIN") as copy:
                for d in range(1, docs + 1):
                    copy.write_row((d, 1, f"https://bench.example/{d}", 1))
            with cur.copy(
                "COPY documents (id, page_id, source_id, url, page_version, title, language, text) FROM STDIN"
            ) as copy:
                for d in range(1, docs + 1):
                    copy.write_row((d, d, 1, f"https://bench.example/{d}", 1, f"document {d}", "en", ""))
            started = time.perf_counter()
            word_ids = np_rng.choice(len(vocab), size=(chunks, 60), p=weights)
            with cur.copy(
                "COPY chunks (id, document_id, ordinal, text, token_count, search_config) FROM STDIN"
            ) as copy:
                for n in range(chunks):
                    body = " ".join(vocab[i] for i in word_ids[n][: 30 + n % 31])
                    copy.write_row(
                        (f"{n:064x}", n // CHUNKS_PER_DOC + 1, n % CHUNKS_PER_DOC, body, 60, "english")
                    )
            print(
                f"loaded {docs} documents, {chunks} chunks with text in {time.perf_counter() - started:.1f} s"
            )
            centres = np_rng.normal(size=(CENTRES, DIM)).astype(np.float32)
            centres /= np.linalg.norm(centres, axis=1, keepdims=True)
            cur.execute(
                "INSERT INTO embedding_models (id, name, dimension, active) "
                "VALUES (1, 'synthetic', %s, true)",
                (DIM,),
            )
            started = time.perf_counter()
            with cur.copy("COPY chunk_embeddings (model_id, chunk_id, embedding) FROM STDIN") as copy:
                for start in range(0, chunks, 5000):
                    size = min(5000, chunks - start)
                    picks = np_rng.integers(0, CENTRES, size=size)
                    vectors = centres[picks] + np_rng.normal(scale=1.0 / np.sqrt(DIM), size=(size, DIM))
                    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
                    buffer = io.StringIO()
                    for offset, vector in enumerate(vectors):
                        buffer.write(f"1\t{start + offset:064x}\t[{','.join(f'{x:.6f}' for x in vector)}]\n")
                    copy.write(buffer.getvalue())
            print(f"loaded {chunks} vectors in {time.perf_counter() - started:.1f} s")
        conn.commit()
    finally:
        raw.close()
    started = time.perf_counter()
    with engine.begin() as sa_conn:
        sa_conn.execute(text("SET maintenance_work_mem = '2GB'"))
        _create_index(sa_conn, 1, DIM, settings.hnsw_m, settings.hnsw_ef_construction)
        sa_conn.execute(text("ANALYZE"))
    print(
        f"built the HNSW index (m={settings.hnsw_m}, ef_construction={settings.hnsw_ef_construction}) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return centres


def exact_top10(settings: Settings, queries: np.ndarray) -> tuple[list[list[str]], list[float]]:
    results, latencies = [], []
    with get_engine(settings).connect() as conn:
        conn.execute(text("SET enable_indexscan = off"))
        conn.execute(text("SET enable_bitmapscan = off"))
        for vector in queries:
            literal = "[" + ",".join(f"{x:.7g}" for x in vector) + "]"
            started = time.perf_counter()
            rows = (
                conn.execute(
                    text(
                        f"SELECT chunk_id FROM chunk_embeddings WHERE model_id = 1 "
                        f"ORDER BY embedding::vector({DIM}) <=> CAST(:q AS vector({DIM})) LIMIT 10"
                    ),
                    {"q": literal},
                )
                .scalars()
                .all()
            )
            latencies.append((time.perf_counter() - started) * 1000)
            results.append(list(rows))
    return results, latencies


def devset_quality(data_dir: Path) -> dict[str, dict[str, float]]:
    from harvest.crawl.runner import run_crawl
    from harvest.crawl.sources import apply_sources
    from harvest.crawl.spec import parse_spec
    from harvest.demo.site import DemoSite, demo_source_spec
    from harvest.embeddings.stage import embed_pending
    from harvest.process.runner import process_pending
    from harvest.search.evaluation import DEVSET_DIR, evaluate, load_qrels, load_queries

    settings = load_settings(
        _env_file=None,
        data_dir=data_dir,
        database_name="devset",
        crawl_allowed_hosts=["127.0.0.1"],
        log_level="WARNING",
    )
    with DemoSite() as site:
        apply_sources(get_engine(settings), [parse_spec(demo_source_spec(site.base))])
        run_crawl(settings, "demo")
    process_pending(settings, "demo")
    embed_pending(settings)
    scores = evaluate(
        Searcher(settings), load_queries(DEVSET_DIR / "queries.jsonl"), load_qrels(DEVSET_DIR / "qrels.tsv")
    )
    return {s.mode: s.means for s in scores}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20,000 chunks and 100 queries")
    args = parser.parse_args()
    chunks, query_count = (20_000, 100) if args.quick else (100_000, 200)
    rng = random.Random(11)
    vocab = pseudo_words(3000, rng)
    data_dir = Path(tempfile.mkdtemp(prefix="harvest-bench-search-"))
    settings = load_settings(
        # a latency benchmark sends searches back to back: no per-client rate limit
        _env_file=None,
        data_dir=data_dir,
        log_level="WARNING",
        api_public_reads=True,
        api_rate_limits={},
    )
    try:
        centres = load_corpus(settings, chunks, rng, vocab)
        q_rng = np.random.default_rng(99)
        queries = centres[q_rng.integers(0, CENTRES, size=query_count)] + q_rng.normal(
            scale=1.0 / np.sqrt(DIM), size=(query_count, DIM)
        )
        queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
        texts = [
            " ".join(rng.choice(vocab[20:600]) for _ in range(rng.randint(1, 3))) for _ in range(query_count)
        ]

        truth, exact_ms = exact_top10(settings, queries)
        exact_p50, exact_p95 = percentiles(exact_ms)
        print(f"(a) exact scan top-10           p50 {exact_p50:7.2f} ms  p95 {exact_p95:7.2f} ms")

        searcher = Searcher(settings)
        recall_at_default = 0.0
        for ef in sorted({40, 100, 200, settings.search_ef_search}):
            found = [searcher.nearest_chunks(q.tolist(), 10, ef_search=ef) for q in queries[:5]]  # warm-up
            started = time.perf_counter()
            found = [searcher.nearest_chunks(q.tolist(), 10, ef_search=ef) for q in queries]
            elapsed = (time.perf_counter() - started) * 1000 / query_count
            recall = float(
                np.mean([len({c for c, _ in f} & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
            )
            if ef == settings.search_ef_search:
                recall_at_default = recall
            print(f"(b) HNSW ef_search={ef:<4}         recall@10 {recall:.4f}  mean {elapsed:6.2f} ms")

        latency: dict[str, tuple[float, float]] = {}
        for mode in ("vector", "keyword", "hybrid"):
            samples = []
            for i, (vector, query) in enumerate(zip(queries, texts, strict=True)):
                request = SearchRequest(query, mode, limit=10, vector=tuple(vector.tolist()))  # type: ignore[arg-type]
                started = time.perf_counter()
                searcher.search(request)
                if i >= 5:  # first few warm caches
                    samples.append((time.perf_counter() - started) * 1000)
            latency[mode] = percentiles(samples)
            print(
                f"(c) Searcher.search {mode:<8}    "
                f"p50 {latency[mode][0]:7.2f} ms  p95 {latency[mode][1]:7.2f} ms"
            )

        port = 19000 + random.randrange(1000)
        server = subprocess.Popen(
            [sys.executable, "-m", "harvest", "api", "serve", "--port", str(port)],
            env=settings_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        http: dict[str, tuple[float, float]] = {}
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            with httpx.Client(base_url=base, timeout=30) as client:
                for mode in ("vector", "hybrid"):
                    samples = []
                    for i, (vector, query) in enumerate(zip(queries, texts, strict=True)):
                        body = json.dumps(
                            {"q": query, "mode": mode, "vector": [round(float(x), 6) for x in vector]}
                        )
                        started = time.perf_counter()
                        response = client.post(
                            "/api/search", content=body, headers={"Content-Type": "application/json"}
                        )
                        if i >= 5:
                            samples.append((time.perf_counter() - started) * 1000)
                        assert response.status_code == 200, response.text
                    http[mode] = percentiles(samples)
                    print(
                        f"(d) HTTP POST /api/search {mode:<6} "
                        f"p50 {http[mode][0]:7.2f} ms  p95 {http[mode][1]:7.2f} ms"
                    )
        finally:
            server.terminate()
            server.wait(timeout=10)

        print(f"    vector search p95 is {exact_p95 / latency['vector'][1]:.1f}x faster than the exact scan")
        quality = devset_quality(data_dir)
        print("(e) dev set (20 queries, demo site, all-MiniLM-L6-v2):")
        for mode, means in quality.items():
            print("    " + f"{mode:<8} " + "  ".join(f"{k} {v:.3f}" for k, v in means.items()))
        print(
            f"RESULT recall_at_10={recall_at_default:.4f} vector_p95_ms={latency['vector'][1]:.2f} "
            f"hybrid_p95_ms={latency['hybrid'][1]:.2f} http_p95_ms={http['hybrid'][1]:.2f} "
            f"keyword_p95_ms={latency['keyword'][1]:.2f} exact_p95_ms={exact_p95:.2f} "
            f"ndcg10_vector={quality['vector']['ndcg@10']:.3f} "
            f"ndcg10_keyword={quality['keyword']['ndcg@10']:.3f} "
            f"ndcg10_hybrid={quality['hybrid']['ndcg@10']:.3f}"
        )
    finally:
        dispose_engines()
        EmbeddedPostgres(data_dir).stop()


if __name__ == "__main__":
    main()
