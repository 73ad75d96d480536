"""Extraction on every core: the CPU-heavy part of processing a page, in this process or in a pool.

What runs here is a pure function of the page (extraction, language, MinHash fingerprint and, in the
pool, the token counts of its chunks): it touches no database. Ordering, duplicate detection and the
exactly-once writes stay in the parent (`harvest.process.runner`), one transaction per batch, so a
killed run loses and duplicates nothing, however many workers there were.

Workers come from a `forkserver` that imports and warms everything once (`harvest.process.preload`),
so each worker starts in milliseconds; they ignore Ctrl-C (the parent stops them cleanly) and exit
when the parent dies without a word (SIGKILL).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from harvest.process.chunking import ChunkingPolicy, ChunkPiece, chunk_pieces
from harvest.process.dedup import Fingerprint, fingerprint
from harvest.process.extract import Extraction, Skipped, extract_page
from harvest.process.tokens import token_counter

logger = logging.getLogger(__name__)

WORKER_CRASHED = "extraction crashed its worker process"


@dataclass(frozen=True)
class PageInput:
    url: str
    body: bytes
    content_type: str | None
    field_rules: dict[str, dict[str, str]]
    max_chars: int


@dataclass(frozen=True)
class ChunkSpec:
    """What a worker needs to cut a text into chunks ahead of time (the tokenizer is loaded once)."""

    model: str
    policy: ChunkingPolicy


@dataclass(frozen=True)
class Prepared:
    result: Extraction | Skipped
    fingerprint: Fingerprint | None
    pieces: list[ChunkPiece] | None = None  # None: not cut yet (the parent cuts canonical texts)


def prepare_page(page: PageInput, chunks: ChunkSpec | None = None) -> Prepared:
    try:
        result: Extraction | Skipped = extract_page(
            page.body,
            url=page.url,
            content_type=page.content_type,
            field_rules=page.field_rules,
            max_chars=page.max_chars,
        )
    except Exception as error:  # a page that breaks the extractor must not stop the batch
        logger.exception("extraction failed", extra={"url": page.url})
        result = Skipped(f"extraction failed: {type(error).__name__}: {error}"[:500])
    if not isinstance(result, Extraction):
        return Prepared(result, None)
    pieces = None
    if chunks is not None:  # in a worker: cutting now is cheaper than in the parent, even for duplicates
        pieces = chunk_pieces(result.text, token_counter(chunks.model), chunks.policy)
    return Prepared(result, fingerprint(result.text), pieces)


def prepare_pages(pages: list[PageInput], chunks: ChunkSpec | None) -> list[Prepared]:
    return [prepare_page(page, chunks) for page in pages]


def worker_count(setting: int) -> int:
    """HARVEST_PROCESS_WORKERS: 0 means one per CPU this process may run on."""
    if setting > 0:
        return setting
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


Pending = Callable[[], list[Prepared]]


class Extractor:
    """Prepares batches of pages: in this process (`workers == 1`) or on `workers` processes.

    `submit` returns a handle; calling it returns the batch's results in page order. In the pool, a
    batch is split across the workers and several batches may be in flight while the parent writes."""

    def __init__(self, workers: int, chunks: ChunkSpec) -> None:
        self.workers = workers
        self.chunks = chunks
        self._executor: ProcessPoolExecutor | None = None
        if workers > 1:
            self._executor = _new_executor(workers)

    @property
    def parallel(self) -> bool:
        return self._executor is not None

    def submit(self, pages: list[PageInput]) -> Pending:
        if self._executor is None:
            return lambda: prepare_pages(pages, None)
        size = -(-len(pages) // self.workers)
        slices = [pages[start : start + size] for start in range(0, len(pages), size)]
        futures = [self._executor.submit(prepare_pages, part, self.chunks) for part in slices]
        return lambda: self._collect(slices, futures)

    def _collect(
        self, slices: list[list[PageInput]], futures: list[Future[list[Prepared]]]
    ) -> list[Prepared]:
        results: list[Prepared] = []
        for part, future in zip(slices, futures, strict=True):
            try:
                results.extend(future.result())
            except BrokenProcessPool:
                results.extend(self._isolate(part))
        return results

    def _isolate(self, pages: list[PageInput]) -> list[Prepared]:
        """A worker died (a page that exhausts memory or crashes a C extension): redo the pages one
        task each on a fresh pool, so only the page that kills a worker is skipped."""
        results = []
        for page in pages:
            self._restart()
            assert self._executor is not None
            try:
                results.append(self._executor.submit(prepare_page, page, self.chunks).result())
            except BrokenProcessPool:
                logger.error(WORKER_CRASHED, extra={"url": page.url})
                results.append(Prepared(Skipped(WORKER_CRASHED), None))
        return results

    def _restart(self) -> None:
        assert self._executor is not None
        if not getattr(self._executor, "_broken", False):
            return
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._executor = _new_executor(self.workers)

    def close(self) -> None:
        """Stop the workers; work not started is dropped (the parent has not written it: the next run
        finds it pending)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _new_executor(workers: int) -> ProcessPoolExecutor:
    context: Any = multiprocessing.get_context("forkserver")
    # "__main__" too: otherwise every worker would import the main module again (as with spawn)
    context.set_forkserver_preload(["__main__", "harvest.process.preload"])
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),)
    )


def _init_worker(parent: int) -> None:
    # Ctrl-C reaches the whole process group: the parent decides, and shuts the pool down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(parent, os.getppid()), daemon=True).start()


def _exit_with_parent(parent: int, forkserver: int, interval_s: float = 0.5) -> None:
    """A pool worker waits on a queue whose write end it holds itself, so a SIGKILLed parent would
    leave it waiting forever: watch the parent instead. The forkserver exits with the parent (even
    while the parent is an unreaped zombie), which re-parents this worker."""
    while True:
        time.sleep(interval_s)
        if os.getppid() != forkserver:
            os._exit(0)
        try:
            os.kill(parent, 0)
        except (ProcessLookupError, PermissionError):  # gone (PermissionError: the pid was reused)
            os._exit(0)
