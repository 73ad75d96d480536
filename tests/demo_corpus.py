"""The demo site crawled, processed and embedded into a test module's database (real stages, no fakes)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from harvest.crawl.runner import run_crawl
from harvest.crawl.sources import apply_sources
from harvest.crawl.spec import parse_spec
from harvest.db.engine import get_engine
from harvest.demo.runner import CATALOG
from harvest.demo.site import DemoSite, demo_source_spec
from harvest.embeddings.stage import embed_pending
from harvest.entities.catalog import import_records, read_records
from harvest.entities.service import extract_mentions, resolve_entities
from harvest.process.runner import process_pending
from harvest.settings import Settings
from tests.conftest import make_settings


@contextmanager
def demo_corpus(db_settings: Settings, **overrides: object) -> Iterator[tuple[Settings, DemoSite]]:
    settings = make_settings(**db_settings.model_dump() | {"crawl_allowed_hosts": ["127.0.0.1"]} | overrides)
    with DemoSite() as site:
        apply_sources(get_engine(settings), [parse_spec(demo_source_spec(site.base))])
        run = run_crawl(settings, "demo")
        assert run.status == "succeeded", run.message
        process_pending(settings, "demo")
        import_records(get_engine(settings), read_records(CATALOG), None)
        resolve_entities(settings)
        extract_mentions(settings)
        embed_pending(settings)
        yield settings, site
