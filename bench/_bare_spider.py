"""The baseline: a bare Scrapy spider that only follows links (no storage). Prints the pages it fetched.

Run: python bench/_bare_spider.py START_URL CONCURRENCY
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.linkextractors import LinkExtractor


class FollowSpider(scrapy.Spider):
    name = "follow"

    def __init__(self, start_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_url = start_url
        self.links = LinkExtractor(unique=True)

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(self.start_url)

    def parse(self, response: Any, **kwargs: Any) -> Iterator[Any]:
        for link in self.links.extract_links(response):
            yield scrapy.Request(link.url)


def main() -> None:
    concurrency = int(sys.argv[2])
    process = CrawlerProcess(
        {
            "ROBOTSTXT_OBEY": True,
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "LOG_LEVEL": "ERROR",
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
        }
    )
    crawler = process.create_crawler(FollowSpider)
    process.crawl(crawler, start_url=sys.argv[1])
    process.start()
    assert crawler.stats is not None
    print(crawler.stats.get_value("response_received_count", 0) - 1)  # minus robots.txt


if __name__ == "__main__":
    main()
