"""The Scrapy item pipeline: batches PageOutcome items and writes them off the reactor thread."""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from scrapy.crawler import Crawler
from twisted.internet import task

from harvest.crawl.writer import CrawlWriter, PageOutcome

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
FLUSH_INTERVAL_S = 1.0
MAX_PENDING_BATCHES = 8


class RawStorePipeline:
    """Writes in batches (few round trips) on one writer thread (in order, never blocking downloads)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.writer: CrawlWriter | None = None
        self.error: BaseException | None = None
        self.buffer: list[PageOutcome] = []
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="harvest-writer")
        self.pending: list[Future[dict[str, int]]] = []
        self.last_flush = time.monotonic()
        self.ticker = task.LoopingCall(self._tick)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RawStorePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        # Scrapy deep-copies settings, so the writer (engine, store clients) travels on the spider.
        self.writer = self.crawler.spider.writer  # type: ignore[union-attr]
        self.ticker.start(FLUSH_INTERVAL_S, now=False)

    def process_item(self, item: Any) -> Any:
        if isinstance(item, PageOutcome):
            self.buffer.append(item)
            if len(self.buffer) >= BATCH_SIZE:
                self.flush()
        return item

    def _tick(self) -> None:
        # Also beats the run's heart when nothing arrives, so a slow crawl is not taken for a dead one.
        if time.monotonic() - self.last_flush >= FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        batch, self.buffer = self.buffer, []
        self.last_flush = time.monotonic()
        self.pending = [f for f in self.pending if not f.done() or self._check(f)]
        assert self.writer is not None, "flush before open_spider"
        self.pending.append(self.executor.submit(self.writer.write, batch))
        while len(self.pending) > MAX_PENDING_BATCHES:  # back-pressure when the store is slower than the web
            self._check(self.pending.pop(0), wait=True)

    def _check(self, future: Future[dict[str, int]], *, wait: bool = False) -> bool:
        """Surface a failed write: the crawl stops (reason store_error) rather than losing pages quietly."""
        if not (wait or future.done()):
            return False
        try:
            future.result()
        except Exception as error:
            if self.error is None:
                self.error = error
                logger.error("writing crawl results failed: %s", error)
                if self.crawler.stats is not None:
                    self.crawler.stats.set_value("harvest/store_error", str(error))
                engine = self.crawler.engine
                if engine is not None:
                    from scrapy.utils.defer import deferred_from_coro

                    deferred_from_coro(engine.close_spider_async(reason="store_error"))
        return False

    def close_spider(self) -> None:
        if self.ticker.running:
            self.ticker.stop()
        self.flush()
        for future in self.pending:
            self._check(future, wait=True)
        self.executor.shutdown(wait=True)
