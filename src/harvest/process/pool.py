"""Extraction on every core: the CPU-heavy part of processing a page, in this process or in a pool.

What runs here is a pure function of the page (extraction, language, MinHash fingerprint and, in the
pool, the token counts of its chunks): it touches no database. Ordering, duplicate detection and the
exactly-once writes stay in the parent (`harvest.process.runner`), one transaction per batch, so a
killed run loses and duplicates nothing, however many workers there were.

On Linux, workers are forked from this process: they start with everything it has imported and loaded
(trafilatura, the tokenizer, MinHash), in milliseconds and with no import cost; they use no database
connection, no torch and no thread of this process. Elsewhere they come from a `forkserver` that
imports and warms everything once (`harvest.process.preload`). Workers ignore Ctrl-C (the parent stops
them cleanly) and exit when the parent dies without a word (SIGKILL).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import forkserver
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
        pieces = chunk_pieces(result.text, token_counter(chunks.model), chunks.policy, result.title)
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
        self._ready = threading.Event()
        self._warming: threading.Thread | None = None
        if workers > 1:
            self._executor = _new_executor(workers)
            # A forkserver takes ~2 s to import and warm up: meanwhile this process extracts the
            # first batches itself instead of waiting (forked workers are ready at once).
            self._warming = threading.Thread(target=self._warm_up, name="process-pool-start", daemon=True)
            self._warming.start()

    @property
    def parallel(self) -> bool:
        return self._executor is not None

    def _warm_up(self) -> None:
        assert self._executor is not None
        try:
            with _sigint_blocked():  # workers forked from this thread start with Ctrl-C held back
                futures = [self._executor.submit(os.getpid) for _ in range(self.workers)]
            for future in futures:
                future.result()
        except Exception:  # no pool (e.g. no forkserver on this platform): extract in this process
            logger.warning("the extraction workers did not start; extracting in-process", exc_info=True)
            return
        self._ready.set()

    def wait_ready(self, timeout_s: float) -> bool:
        """True once batches go to the workers (False: still starting, or extracting in-process)."""
        return self._ready.wait(timeout_s)

    def submit(self, pages: list[PageInput]) -> Pending:
        if self._executor is None or not self._ready.is_set():
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
                with _sigint_blocked():
                    future = self._executor.submit(prepare_page, page, self.chunks)
                results.append(future.result())
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
        if self._warming is not None:
            self._warming.join()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def _new_executor(workers: int) -> ProcessPoolExecutor:
    context: Any
    if sys.platform == "linux":
        # The workers inherit this process's tokenizer; Hugging Face tokenizers would print a warning in
        # each and turn its threads off there anyway: say so up front (a user's own setting wins).
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        context = multiprocessing.get_context("fork")
    else:  # fork is unsafe on macOS; Windows has none
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_preload_modules())
        _start_forkserver()
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(os.getpid(),)
    )


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Hold Ctrl-C back in this thread while it forks workers: a forked worker inherits the mask, so a
    Ctrl-C in the instant before it ignores SIGINT cannot print a traceback from it. The signal is not
    lost: another thread (or this one, when unblocked) takes it."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _start_forkserver() -> None:
    """Start the forkserver with Ctrl-C ignored from its first instant (it ignores it itself only once
    its imports are done: a Ctrl-C during them would print a traceback). Only the main thread may
    change signal handlers; from another thread the forkserver starts with the first worker."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()  # spawns it (a few ms); its imports run on without us
    finally:  # (None: a handler installed outside Python; Python's own is the sensible default)
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


# Harvest packages a parent may have loaded that are cheap to hold in the forkserver (not torch).
_LIGHT_PACKAGES = ("harvest.cli", "harvest.crawl", "harvest.db", "harvest.storage", "harvest.process")


def _preload_modules() -> list[str]:
    """What the forkserver imports once. A worker also runs the parent's main script again (as with
    spawn; Python 3.11's forkserver never preloads it), e.g. the `harvest` console script, which
    imports the CLI: ~0.7 s of CPU per worker, unless the forkserver already holds those modules."""
    loaded = sorted(name for name in sys.modules if name.startswith(_LIGHT_PACKAGES))
    return ["harvest.process.preload", *loaded]


def _init_worker(parent: int) -> None:
    # Ctrl-C reaches the whole process group: the parent decides, and shuts the pool down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_exit_with_parent, args=(parent, os.getppid()), daemon=True).start()


def _exit_with_parent(parent: int, first_parent: int, interval_s: float = 0.5) -> None:
    """A pool worker waits on a queue whose write end it holds itself, so a SIGKILLed parent would
    leave it waiting forever: watch the parent instead. A forked worker is re-parented when the parent
    dies; a forkserver's exits with the parent (even while the parent is an unreaped zombie), which
    re-parents it too."""
    while True:
        time.sleep(interval_s)
        if os.getppid() != first_parent:
            os._exit(0)
        try:
            os.kill(parent, 0)
        except (ProcessLookupError, PermissionError):  # gone (PermissionError: the pid was reused)
            os._exit(0)
