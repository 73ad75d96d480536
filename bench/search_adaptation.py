"""Does adapting the embedding model to a site, without judgements, help vector search? (issue 13)

  .venv/bin/python bench/search_quality.py --quick --data-dir /tmp/sq      # makes the stores first
  .venv/bin/python bench/search_adaptation.py --data-dir /tmp/sq           # 1 epoch per site
  .venv/bin/python bench/search_adaptation.py --data-dir /tmp/sq --quick   # 10 training steps per site

For each site's stored chunks (a bench/search_quality.py data dir), all-MiniLM-L6-v2 is fine-tuned on
pairs the site itself gives — (page title + heading path) → the section's text — with in-batch
negatives (the MultipleNegativesRankingLoss recipe, scale 20, AdamW 2e-5, batch 32), the way one
adapts a model to a corpus that has no judged queries. Baseline, measured in the same run: the model as
shipped. Both embed every chunk as `harvest embed` does (title and heading path, then the text; inputs
up to the chunk budget) and rank pages by their best chunk; scored with the site's dev set (MRR@10).
Nothing is written to the stores. Last line: RESULT base_mrr10=… adapted_mrr10=… (means over sites).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
from sqlalchemy import select

from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.db.models import Chunk, Document
from harvest.embedding_input import embedding_input
from harvest.embeddings.backend import longest_chunk
from harvest.model_files import model_dir
from harvest.search.evaluation import load_qrels, load_queries, normalise_doc_key, score_rankings
from harvest.settings import load_settings

DEVSETS = Path(__file__).resolve().parent / "devsets"
BATCH = 32
SCALE = 20.0
LEARNING_RATE = 2e-5
QUICK_STEPS = 10


def stored_chunks(data_dir: Path) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """What the model reads per chunk, each chunk's page, and the (title + heading → text) pairs."""
    settings = load_settings(_env_file=None, data_dir=data_dir, log_level="WARNING")
    try:
        with get_engine(settings).connect() as conn:
            rows = conn.execute(
                select(Chunk.title, Chunk.heading, Chunk.text, Document.url).join(
                    Document, Document.id == Chunk.document_id
                )
            ).all()
    finally:
        dispose_engines()
        EmbeddedPostgres(data_dir).stop()
    inputs = [embedding_input(r.title, r.heading, r.text) for r in rows]
    owners = [normalise_doc_key(r.url) for r in rows]
    pairs = [
        ((r.title or "") + (f" — {r.heading}" if r.heading else ""), r.text)
        for r in rows
        if r.text and (r.title or r.heading)
    ]
    return inputs, owners, pairs


def vector_mrr(model, inputs: list[str], owners: list[str], site: str, limit: int) -> float:  # type: ignore[no-untyped-def]
    queries = load_queries(DEVSETS / site / "queries.jsonl")
    qrels = load_qrels(DEVSETS / site / "qrels.tsv")
    model.max_seq_length = limit
    vectors = model.encode(inputs, batch_size=64, normalize_embeddings=True)
    qids = list(queries)
    asked = model.encode([queries[q] for q in qids], normalize_embeddings=True)
    order = np.argsort(-(asked @ vectors.T), axis=1)[:, :300]
    rankings = {qid: list(dict.fromkeys(owners[c] for c in order[i])) for i, qid in enumerate(qids)}
    return float(score_rankings(rankings, qrels)[0]["mrr@10"])


def adapt(model, pairs: list[tuple[str, str]], epochs: int, steps: int | None) -> float:  # type: ignore[no-untyped-def]
    """Fine-tune in place; returns the last batch's loss."""
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    model.max_seq_length = 256
    model.train()
    loss = torch.tensor(0.0)
    done = 0
    for _ in range(epochs):
        random.shuffle(pairs)
        for start in range(0, len(pairs) - BATCH + 1, BATCH):
            batch = pairs[start : start + BATCH]
            anchors = model(model.preprocess([a for a, _ in batch]))["sentence_embedding"]
            positives = model(model.preprocess([p for _, p in batch]))["sentence_embedding"]
            similarity = (
                torch.nn.functional.normalize(anchors, dim=-1)
                @ torch.nn.functional.normalize(positives, dim=-1).T
            )
            loss = torch.nn.functional.cross_entropy(similarity * SCALE, torch.arange(len(batch)))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            done += 1
            if steps is not None and done >= steps:
                model.eval()
                return float(loss.detach())
    model.eval()
    return float(loss.detach())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, required=True, help="a bench/search_quality.py data dir")
    parser.add_argument("--sites", default="django,postgresql")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} training steps per site")
    args = parser.parse_args()
    from sentence_transformers import SentenceTransformer

    base_scores, adapted_scores = [], []
    for site in args.sites.split(","):
        site_dir = args.data_dir / site
        if not (site_dir / "postgres").is_dir():
            sys.exit(f"{site_dir} holds no stores: run bench/search_quality.py --data-dir {args.data_dir}")
        settings = load_settings(_env_file=None, data_dir=site_dir, log_level="WARNING")
        inputs, owners, pairs = stored_chunks(site_dir)
        limit = longest_chunk(settings) + 2
        torch.manual_seed(0)
        random.seed(0)
        model = SentenceTransformer(str(model_dir(settings.embedding_model)), device="cpu")
        base = vector_mrr(model, inputs, owners, site, limit)
        started = time.perf_counter()
        loss = adapt(model, pairs, args.epochs, QUICK_STEPS if args.quick else None)
        trained_s = time.perf_counter() - started
        with torch.no_grad():
            adapted = vector_mrr(model, inputs, owners, site, limit)
        print(
            f"{site}: {len(inputs)} chunks, {len(pairs)} pairs; vector MRR@10 (page = best chunk) "
            f"base {base:.3f}, adapted {adapted:.3f} (trained {trained_s:.0f} s, last loss {loss:.3f})",
            flush=True,
        )
        base_scores.append(base)
        adapted_scores.append(adapted)
    print(
        f"RESULT base_mrr10={sum(base_scores) / len(base_scores):.3f} "
        f"adapted_mrr10={sum(adapted_scores) / len(adapted_scores):.3f}"
    )


if __name__ == "__main__":
    main()
