"""Embedding benchmark: the bare library against each way Harvest embeds, on the same texts, in one run.

  .venv/bin/python bench/embed.py           # 5,000 chunk texts
  .venv/bin/python bench/embed.py --quick   # 400 texts, same measurement, about a minute
  .venv/bin/python bench/embed.py --texts 2000 --no-onnx   # while iterating on (b)-(d)

(a) bare `SentenceTransformer.encode` (batch 64, normalised), the baseline;
(b) Harvest's in-process backend (`harvest.embeddings.encoder`);
(c) the embeddings service over HTTP (`harvest embeddings serve`, its own process), 4 concurrent clients
    sending 64 texts per request;
(d) the whole embed stage: chunks read from PostgreSQL, encoded in-process, vectors written to pgvector
    (HNSW index maintained);
(e) the ONNX Runtime backends in-process: fp32 (same vectors) and int8 (mean cosine to (a) reported).
Texts are chunk-like: 1-4 sentences of 8-30 words, so 15-150 tokens.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx
import numpy as np
from sqlalchemy import insert

from harvest.db.embedded import EmbeddedPostgres
from harvest.db.engine import dispose_engines, get_engine
from harvest.db.models import Chunk, Document, Page, Source
from harvest.embeddings.client import ServiceEncoder
from harvest.embeddings.encoder import load_encoder
from harvest.embeddings.onnx_encoder import load_onnx_encoder
from harvest.embeddings.stage import embed_pending
from harvest.model_files import model_dir
from harvest.settings import DEFAULT_EMBEDDING_MODEL, load_settings, settings_env

WORDS = [
    "model",
    "data",
    "river",
    "city",
    "music",
    "history",
    "garden",
    "energy",
    "market",
    "science",
    "school",
    "health",
    "travel",
    "food",
    "language",
    "planet",
    "engine",
    "network",
    "policy",
    "budget",
    "weather",
    "sport",
    "film",
    "art",
    "book",
    "law",
    "water",
    "light",
]


def texts(count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        sentences = [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "."
            for _ in range(rng.randint(1, 4))
        ]
        out.append(" ".join(sentences))
    return out


def timed(label: str, count: int, seconds: float, baseline: float | None = None) -> float:
    rate = count / seconds
    ratio = f"  {rate / baseline:5.2f}x (a)" if baseline else ""
    print(f"{label:<44} {count:6d} texts {seconds:7.2f} s {rate:8.1f} texts/s{ratio}")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="400 texts instead of 5,000")
    parser.add_argument("--texts", type=int, default=0, help="this many texts (overrides --quick)")
    parser.add_argument("--no-onnx", action="store_true", help="skip (e)")
    args = parser.parse_args()
    count = args.texts or (400 if args.quick else 5000)
    corpus = texts(count)
    import torch
    from sentence_transformers import SentenceTransformer

    print(
        f"{count} texts; torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
        f"CUDA: {torch.cuda.is_available()}"
    )

    bare = SentenceTransformer(str(model_dir(DEFAULT_EMBEDDING_MODEL)), device="cpu")
    bare.encode(corpus[:64], batch_size=64, normalize_embeddings=True)  # warm-up
    started = time.perf_counter()
    reference = bare.encode(corpus, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    rate_a = timed("(a) bare SentenceTransformer.encode", count, time.perf_counter() - started)

    encoder = load_encoder(DEFAULT_EMBEDDING_MODEL)
    encoder.encode(corpus[:64])
    started = time.perf_counter()
    inprocess = encoder.encode(corpus).vectors
    rate_b = timed("(b) Harvest in-process backend", count, time.perf_counter() - started, rate_a)
    assert np.allclose(inprocess, reference, atol=1e-5)

    data_dir = Path(tempfile.mkdtemp(prefix="harvest-bench-embed-"))
    settings = load_settings(_env_file=None, data_dir=data_dir, log_level="WARNING", embed_batch_chunks=256)
    port = 18000 + random.randrange(2000)
    service = subprocess.Popen(
        [sys.executable, "-m", "harvest", "embeddings", "serve", "--port", str(port)],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        client = ServiceEncoder(url, DEFAULT_EMBEDDING_MODEL)
        client.encode(corpus[:64])
        requests = [corpus[i : i + 64] for i in range(0, count, 64)]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            remote = np.vstack(list(pool.map(lambda part: client.encode(part).vectors, requests)))
        rate_c = timed(
            "(c) service over HTTP, 4 concurrent clients", count, time.perf_counter() - started, rate_a
        )
        assert np.allclose(remote, reference, atol=1e-5)
    finally:
        service.terminate()
        service.wait(timeout=10)

    try:
        engine = get_engine(settings)
        with engine.begin() as conn:
            source_id = conn.execute(insert(Source).values(name="bench").returning(Source.id)).scalar_one()
            page_id = conn.execute(
                insert(Page).values(source_id=source_id, url="https://b/", version=1).returning(Page.id)
            ).scalar_one()
            document_id = conn.execute(
                insert(Document)
                .values(page_id=page_id, source_id=source_id, url="https://b/", page_version=1)
                .returning(Document.id)
            ).scalar_one()
            conn.execute(
                insert(Chunk),
                [
                    {"id": f"{n:064x}", "document_id": document_id, "ordinal": n, "text": t, "token_count": 0}
                    for n, t in enumerate(corpus)
                ],
            )
        started = time.perf_counter()
        report = embed_pending(settings)
        rate_d = timed(
            "(d) embed stage into pgvector", report.embedded, time.perf_counter() - started, rate_a
        )
        assert report.embedded == count
    finally:
        dispose_engines()
        EmbeddedPostgres(data_dir).stop()

    onnx_rates, int8_cosine = {"fp32": 0.0, "int8": 0.0}, 0.0
    for label, int8 in () if args.no_onnx else (("fp32", False), ("int8", True)):
        onnx = load_onnx_encoder(DEFAULT_EMBEDDING_MODEL, data_dir / "models", int8, 0, 0, 0)  # export cached
        onnx.encode(corpus[:64])
        started = time.perf_counter()
        vectors = onnx.encode(corpus).vectors
        onnx_rates[label] = timed(
            f"(e) ONNX Runtime {label}, in-process", count, time.perf_counter() - started, rate_a
        )
        cosine = float(np.mean(np.sum(vectors * reference, axis=1)))
        print(f"    mean cosine to (a)'s vectors: {cosine:.4f}")
        if int8:
            int8_cosine = cosine
    print(
        f"RESULT inprocess_ratio={rate_b / rate_a:.3f} service_ratio={rate_c / rate_a:.3f} "
        f"stage_ratio={rate_d / rate_a:.3f} onnx_fp32_ratio={onnx_rates['fp32'] / rate_a:.3f} "
        f"onnx_int8_ratio={onnx_rates['int8'] / rate_a:.3f} onnx_int8_cosine={int8_cosine:.4f} "
        f"bare_texts_per_s={rate_a:.1f}"
    )


if __name__ == "__main__":
    main()
