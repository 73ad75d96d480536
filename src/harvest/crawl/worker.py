"""The crawl process: `python -m harvest.crawl.worker RUN_ID` runs one crawl run with Scrapy.

One process per run because Twisted's reactor cannot be restarted inside a process. SIGINT (Ctrl-C,
forwarded by `harvest crawl`) makes Scrapy stop gracefully: what was fetched is written before exit.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.logformatter import LogFormatter
from sqlalchemy import select
from sqlalchemy.orm import Session

from harvest.crawl.browser_guard import BrowserGuard, browser_settings
from harvest.crawl.limits import CrawlLimits, describe
from harvest.crawl.revisit import KnownPage, RevisitPolicy
from harvest.crawl.runs import (
    FINISHED_STATUSES,
    finish_run,
    get_run,
    hold_crawl_lock,
    mark_running,
    record_not_due,
    release_crawl_lock,
    verdict,
)
from harvest.crawl.safety import crawl_policy
from harvest.crawl.sources import spec_of
from harvest.crawl.spider import CrawlPlan, HarvestSpider
from harvest.crawl.writer import CrawlWriter
from harvest.db.engine import get_engine
from harvest.db.models import CrawlRun, Page, Source
from harvest.errors import HarvestError, NotFoundError
from harvest.settings import Settings, get_settings
from harvest.storage import open_raw_store

logger = logging.getLogger(__name__)

CLOSE_REASON_STATUS = {"shutdown": "cancelled", "cancelled": "cancelled"}


def load_plan(settings: Settings, run_id: int) -> CrawlPlan:
    engine = get_engine(settings)
    with Session(engine) as session:
        row = session.execute(select(CrawlRun, Source).join(Source).where(CrawlRun.id == run_id)).first()
        if row is None:
            raise NotFoundError(f"no crawl run {run_id}")
        run, source = row
        known: dict[str, int] = {}
        validators: dict[str, tuple[str | None, str | None]] = {}
        schedule: dict[str, KnownPage] = {}
        intervals: dict[str, int] = {}
        pages = session.execute(
            # every known page, gone and failed ones too: they may be back
            select(
                Page.url,
                Page.depth,
                Page.etag,
                Page.last_modified,
                CrawlRun.status,
                Page.state,
                Page.last_fetched_at,
                Page.next_due_at,
                Page.revisit_interval_s,
            )
            .outerjoin(CrawlRun, CrawlRun.id == Page.last_run_id)
            .where(Page.source_id == source.id)
        )
        for url, depth, etag, last_modified, last_run_status, state, fetched_at, due_at, interval in pages:
            known[url] = depth or 0
            # Conditional requests only for pages whose last run finished: a run that was killed may
            # have stored a page before following its links, and a 304 would hide those links for good.
            finished = last_run_status in FINISHED_STATUSES
            if (etag or last_modified) and finished:
                validators[url] = (etag, last_modified)
            if interval is not None:
                intervals[url] = interval
            # Skipping a page that is not due: the same rule (its links were followed when it was read)
            if finished and not run.full and state == "active" and fetched_at and due_at:
                schedule[url] = KnownPage(fetched_at, due_at)
        spec = spec_of(source)
        return CrawlPlan(
            run_id=run.id,
            source_id=source.id,
            spec=spec,
            limits=CrawlLimits.of(spec, settings),
            known=known,
            validators=validators,
            schedule=schedule,
            revisit_max_s=settings.crawl_revisit_max,
            intervals=intervals,
        )


def scrapy_settings(settings: Settings, plan: CrawlPlan, guard: BrowserGuard | None = None) -> dict[str, Any]:
    spec = plan.spec
    values: dict[str, Any] = {
        "BOT_NAME": "harvest",
        "USER_AGENT": spec.user_agent or "HarvestBot/0.1 (+https://github.com/harvest)",
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": max(16, spec.concurrency * max(len(spec.allowed_domains), 1)),
        "CONCURRENT_REQUESTS_PER_DOMAIN": spec.concurrency,
        "DOWNLOAD_DELAY": spec.delay,
        "AUTOTHROTTLE_ENABLED": True,
        "AUTOTHROTTLE_START_DELAY": spec.delay,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(spec.concurrency),
        "DOWNLOAD_TIMEOUT": settings.crawl_timeout_s,
        "DOWNLOAD_MAXSIZE": int(settings.crawl_max_response_mb * 1024 * 1024),
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": settings.crawl_retries,
        "REDIRECT_MAX_TIMES": 10,
        "DEPTH_LIMIT": 0,  # depth is the spider's own (known pages keep theirs across runs)
        "URLLENGTH_LIMIT": 0,  # so is URL length (harvest.crawl.limits says why a link was not followed)
        # every connection goes to an address the SSRF policy checked (see harvest.crawl.resolver)
        "TWISTED_DNS_RESOLVER": "harvest.crawl.resolver.PinnedResolver",
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "DEBUG" if settings.log_level == "DEBUG" else "INFO",
        "LOG_FORMATTER": "harvest.crawl.worker.QuietLogFormatter",
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "DOWNLOADER_MIDDLEWARES": {
            "harvest.crawl.middlewares.AddressPolicyMiddleware": 50,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "harvest.crawl.middlewares.BackoffRetryMiddleware": 550,
            "harvest.crawl.middlewares.ConditionalRequestMiddleware": 560,
        },
        "EXTENSIONS": {
            "scrapy.extensions.throttle.AutoThrottle": None,
            "harvest.crawl.middlewares.ConditionalAwareAutoThrottle": 0,
        },
        "ITEM_PIPELINES": {"harvest.crawl.pipeline.RawStorePipeline": 300},
        "HARVEST_ALLOWED_ADDRESSES": settings.crawl_allowed_hosts,
        "HARVEST_VALIDATORS": plan.validators,
    }
    if guard is not None:
        values.update(browser_settings(settings, guard))
    return values


class QuietLogFormatter(LogFormatter):
    """Scrapy's log lines, without whole items (page bodies) in them."""

    def scraped(self, item: Any, response: Any, spider: Any) -> None:  # type: ignore[override]
        return None


def run(run_id: int) -> int:
    settings = get_settings()
    engine = get_engine(settings, migrate=False)  # `harvest crawl` (run_crawl) migrated before starting us
    plan = load_plan(settings, run_id)
    browser = plan.spec.render == "browser" or bool(plan.spec.render_rules)
    if browser and not settings.chromium_path.exists():
        finish_run(
            engine,
            run_id,
            "failed",
            f"Chromium not found at {settings.chromium_path} (HARVEST_CHROMIUM_PATH); "
            "install it with `apt-get install chromium`",
        )
        return 1
    claim = hold_crawl_lock(engine, plan.source_id)  # the run stays live while this process works on it
    raw_store = open_raw_store(settings)
    writer = CrawlWriter(
        engine,
        raw_store,
        run_id=run_id,
        source_id=plan.source_id,
        source=plan.spec.name,
        revisit=RevisitPolicy(settings.crawl_revisit_min, settings.crawl_revisit_max),
        intervals=plan.intervals,
    )
    guard = None
    if browser:
        policy = crawl_policy(tuple(settings.crawl_allowed_hosts))
        guard = BrowserGuard(policy, connect_timeout_s=settings.crawl_timeout_s).start()
    mark_running(engine, run_id)
    process = CrawlerProcess(scrapy_settings(settings, plan, guard))
    crawler = process.create_crawler(HarvestSpider)
    process.crawl(crawler, plan=plan, writer=writer)
    _watch_parent(crawler)
    status, message, limits = "failed", None, None
    try:
        process.start()
        stats = crawler.stats.get_stats() if crawler.stats else {}
        store_error = stats.get("harvest/store_error")
        reason = str(stats.get("finish_reason", "unknown"))
        spider = crawler.spider
        if isinstance(spider, HarvestSpider):
            limits = spider.traps.summary(spider.scheduled)
            record_not_due(engine, run_id, len(spider.not_due))
        if store_error:
            status, message = "failed", f"writing to the stores failed: {store_error}"
        elif reason == "finished":
            status, message = verdict(get_run(engine, run_id, error_limit=3))
        else:
            status = CLOSE_REASON_STATUS.get(reason, "failed")
            message = None if status != "failed" else f"crawl ended: {reason}"
        message = "\n".join(part for part in (message, describe(limits or {})) if part) or None
    finally:
        finish_run(engine, run_id, status, message, limits=limits)
        raw_store.close()
        if guard is not None:
            guard.stop()
        release_crawl_lock(claim)
    return 0 if status in FINISHED_STATUSES else (130 if status == "cancelled" else 1)


def _watch_parent(crawler: Any) -> Any:
    """Stop the crawl gracefully when the process that started it dies (e.g. a queue worker killed
    with SIGKILL): what was fetched is stored, and the job's retry starts a fresh run."""
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import task as twisted_task

    parent = os.getppid()

    def check() -> None:
        if os.getppid() != parent:
            logger.warning("the process that started this crawl is gone; stopping the crawl")
            watch.stop()
            deferred_from_coro(crawler.stop_async())

    watch = twisted_task.LoopingCall(check)
    watch.start(1.0, now=False)
    return watch


def main() -> None:
    # Scrapy installs its graceful-shutdown handler only over Python's default one: restore that even
    # when the parent started us with SIGINT ignored, so the runner's SIGINT always stops the crawl.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        sys.exit(run(int(sys.argv[1])))
    except HarvestError as error:
        logger.error("crawl worker failed: %s", error.message)
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
