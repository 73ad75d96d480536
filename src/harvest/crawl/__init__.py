"""Crawl stage: sources → Scrapy (+ Playwright for browser sources) → raw page versions in the RawStore."""
