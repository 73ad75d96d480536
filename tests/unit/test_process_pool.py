"""The extraction pool gives exactly what in-process extraction gives, and survives a dead worker."""

from __future__ import annotations

import os
import signal

from harvest.process.chunking import ChunkingPolicy, chunk_pieces, chunk_text
from harvest.process.extract import Extraction
from harvest.process.pool import ChunkSpec, Extractor, PageInput, Prepared, prepare_pages
from harvest.process.tokens import token_counter
from harvest.settings import DEFAULT_EMBEDDING_MODEL

SPEC = ChunkSpec(DEFAULT_EMBEDDING_MODEL, ChunkingPolicy(max_tokens=40, overlap_tokens=8, min_tokens=8))


def page(n: int) -> PageInput:
    paragraphs = "".join(
        f"<p>Story {n} part {k}: the harbour council met the river school about the bridge budget, "
        f"and the village museum agreed to open its garden on Sundays during the season {k}.</p>"
        for k in range(4)
    )
    html = (
        f"<html lang='en'><head><title>Story {n}</title></head>"
        f"<body><article>{paragraphs}</article></body></html>"
    )
    body = html.encode() if n % 7 else b"   "  # every 7th page is empty: Skipped, in its place
    return PageInput(f"https://pool.example.org/{n}", body, "text/html", {}, 1_000_000)


def same(a: Prepared, b: Prepared) -> bool:
    if a.result != b.result:
        return False
    if a.fingerprint is None or b.fingerprint is None:
        return a.fingerprint is b.fingerprint
    return a.fingerprint.text_hash == b.fingerprint.text_hash and (
        a.fingerprint.signature_bytes == b.fingerprint.signature_bytes
    )


def test_pool_results_equal_in_process_results_in_page_order() -> None:
    pages = [page(n) for n in range(30)]
    alone = prepare_pages(pages, None)
    extractor = Extractor(2, SPEC)
    try:
        assert extractor.wait_ready(120)
        handles = [extractor.submit(pages[:13]), extractor.submit(pages[13:])]  # two batches in flight
        pooled = handles[0]() + handles[1]()
    finally:
        extractor.close()
    assert len(pooled) == len(alone) == 30
    assert all(same(a, b) for a, b in zip(alone, pooled, strict=True))
    assert sum(isinstance(p.result, Extraction) for p in pooled) == 25
    # chunks cut by a worker get the ids the parent would have given them
    counter = token_counter(SPEC.model)
    for done in pooled:
        if isinstance(done.result, Extraction):
            title = done.result.title
            assert done.pieces == chunk_pieces(done.result.text, counter, SPEC.policy, title)
            assert done.pieces and chunk_text(done.result.text, "7", counter, SPEC.policy, title)


def test_a_killed_worker_loses_no_page() -> None:
    """The OOM killer (or a crashing C extension) takes a worker: the batch is redone, page by page."""
    pages = [page(n) for n in range(40)]
    extractor = Extractor(2, SPEC)
    try:
        assert extractor.wait_ready(120)
        executor = extractor._executor
        assert executor is not None
        pending = extractor.submit(pages)
        os.kill(next(iter(executor._processes)), signal.SIGKILL)
        results = pending()
    finally:
        extractor.close()
    assert [p.result for p in results] == [p.result for p in prepare_pages(pages, None)]
