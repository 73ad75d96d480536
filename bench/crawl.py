"""Crawl benchmark: Harvest's crawler against a bare Scrapy spider on the same generated site, in one run.

  .venv/bin/python bench/crawl.py           # 2,000 pages of ~20 KiB
  .venv/bin/python bench/crawl.py --quick   # 500 pages, same measurement, under a minute

(a) a bare Scrapy spider that only follows links (bench/_bare_spider.py, its own process);
(b) `harvest crawl` of the same site: its own worker process, raw-store writes, pages table, run counts;
(c) a recrawl of the unchanged site, as scheduled: only pages that are due are asked for (the start
    URL; every other page is within its revisit interval, HARVEST_CRAWL_REVISIT_MIN = 1 h by default);
(d) `harvest crawl --full` of the unchanged site: every page revalidated (conditional requests, 304s).
All four are wall-clock times of whole processes, start-up included. The site is served from memory
by Twisted in a separate process. The embedded PostgreSQL runs in a temporary data directory.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent / "src"))

from harvest.crawl.runner import run_crawl  # noqa: E402
from harvest.crawl.sources import add_source  # noqa: E402
from harvest.crawl.spec import parse_spec  # noqa: E402
from harvest.db.embedded import EmbeddedPostgres  # noqa: E402
from harvest.db.engine import dispose_engines, get_engine  # noqa: E402
from harvest.settings import load_settings  # noqa: E402
from harvest.storage import open_raw_store  # noqa: E402

CONCURRENCY = 16


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="500 pages instead of 2,000")
    parser.add_argument("--pages", type=int, default=None)
    parser.add_argument("--page-kb", type=int, default=20)
    args = parser.parse_args()
    pages = args.pages or (500 if args.quick else 2000)

    site = subprocess.Popen(
        [sys.executable, str(BENCH / "_site.py"), str(pages), str(args.page_kb)],
        stdout=subprocess.PIPE,
        text=True,
    )
    data_dir = Path(tempfile.mkdtemp(prefix="harvest-bench-crawl-"))
    try:
        assert site.stdout is not None
        base = f"http://127.0.0.1:{site.stdout.readline().strip()}"
        settings = load_settings(
            _env_file=None, data_dir=data_dir, crawl_allowed_hosts=["127.0.0.1"], log_level="WARNING"
        )
        engine = get_engine(settings)
        add_source(
            engine, parse_spec({"name": "bench", "start_urls": [base + "/p/0"], "concurrency": CONCURRENCY})
        )
        print(f"site: {pages} pages of ~{args.page_kb} KiB at {base}, concurrency {CONCURRENCY}")

        started = time.perf_counter()
        bare = subprocess.run(
            [sys.executable, str(BENCH / "_bare_spider.py"), base + "/p/0", str(CONCURRENCY)],
            capture_output=True,
            text=True,
            check=True,
        )
        bare_s = time.perf_counter() - started
        bare_pages = int(bare.stdout.strip().splitlines()[-1])

        started = time.perf_counter()
        first = run_crawl(settings, "bench")
        first_s = time.perf_counter() - started

        started = time.perf_counter()
        again = run_crawl(settings, "bench")
        again_s = time.perf_counter() - started

        started = time.perf_counter()
        full = run_crawl(settings, "bench", full=True)
        full_s = time.perf_counter() - started

        with open_raw_store(settings) as raw:
            stored = raw.count("bench")
        assert first.status == again.status == full.status == "succeeded", (first.message, again.message)
        assert first.counts["new"] == stored == pages, (first.counts, stored)
        assert again.counts["unchanged"] + again.counts["not_due"] == pages, again.counts
        assert again.counts["new"] == again.counts["changed"] == 0
        assert full.counts["unchanged"] == pages and full.counts["new"] == full.counts["changed"] == 0

        rate = {
            "a": bare_pages / bare_s,
            "b": first.counts["fetched"] / first_s,
            "c": again.counts["fetched"] / again_s,
            "d": full.counts["fetched"] / full_s,
        }
        print(
            f"(a) bare Scrapy, links only     {bare_pages:6d} pages {bare_s:7.2f} s {rate['a']:8.1f} pages/s"
        )
        print(
            f"(b) harvest crawl, with stores  {first.counts['fetched']:6d} pages {first_s:7.2f} s "
            f"{rate['b']:8.1f} pages/s"
        )
        print(
            f"(c) harvest recrawl, unchanged  {again.counts['fetched']:6d} pages {again_s:7.2f} s "
            f"(not due, not asked for: {again.counts['not_due']}, unchanged: {again.counts['unchanged']})"
        )
        print(
            f"(d) harvest crawl --full        {full.counts['fetched']:6d} pages {full_s:7.2f} s "
            f"{rate['d']:8.1f} pages/s (304s: {full.counts['unchanged']}, new versions: 0)"
        )
        ratio = rate["b"] / rate["a"]
        speedup = first_s / again_s
        full_speedup = first_s / full_s
        print(
            f"(b)/(a) = {ratio:.2f} (target >= 0.8)   first/recrawl time = {speedup:.2f} (target >= 5)   "
            f"first/--full time = {full_speedup:.2f}"
        )
        print(
            f"RESULT ratio_vs_scrapy={ratio:.3f} recrawl_speedup={speedup:.3f} pages={pages} "
            f"full_recrawl_speedup={full_speedup:.3f}"
        )
    finally:
        site.terminate()
        dispose_engines()
        EmbeddedPostgres(data_dir).stop()


if __name__ == "__main__":
    main()
