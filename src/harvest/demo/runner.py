"""`harvest demo` / `make demo`: the whole product on the bundled site, through the task queue."""

from __future__ import annotations

import errno
import time
from pathlib import Path

from sqlalchemy import func, select, text

from harvest.cli.output import console, escape
from harvest.crawl.sources import apply_sources
from harvest.crawl.spec import parse_spec
from harvest.db.engine import get_engine
from harvest.db.models import Chunk, Document, Page, Source
from harvest.demo.articles import ARTICLES
from harvest.demo.site import DemoSite, demo_source_spec
from harvest.entities.catalog import import_records, read_records
from harvest.errors import ConflictError, StoreUnavailableError
from harvest.settings import Settings
from harvest.stack import Stack

CATALOG = Path(__file__).resolve().parent / "catalog.csv"
DEMO_ENTITIES = ("Acme Corporation", "Globex Industries", "Initech")
DEMO_QUERIES = (
    "how do cities keep honeybees",
    "storing renewable electricity",
    "volcano eruption warning",
)


def demo_counts(settings: Settings, source: str = "demo") -> dict[str, int]:
    engine = get_engine(settings)
    with engine.connect() as conn:
        source_id = conn.execute(select(Source.id).where(Source.name == source)).scalar_one()
        pages = conn.execute(
            select(func.count()).select_from(Page).where(Page.source_id == source_id)
        ).scalar_one()
        documents, skipped, duplicates = conn.execute(
            # what the process stage made: canonical documents; pages it skipped (navigation-only,
            # empty, not HTML) and duplicates are counted apart
            select(
                func.count().filter(Document.skip_reason.is_(None), Document.duplicate_of_id.is_(None)),
                func.count().filter(Document.skip_reason.is_not(None)),
                func.count().filter(Document.duplicate_of_id.is_not(None)),
            ).where(Document.source_id == source_id)
        ).one()
        chunks = conn.execute(
            select(func.count()).select_from(Chunk).join(Document).where(Document.source_id == source_id)
        ).scalar_one()
        vectors = conn.execute(
            text(
                "SELECT count(*) FROM chunk_embeddings e JOIN embedding_models m ON m.id = e.model_id "
                "AND m.active JOIN chunks c ON c.id = e.chunk_id JOIN documents d ON d.id = c.document_id "
                "WHERE d.source_id = :s"
            ),
            {"s": source_id},
        ).scalar_one()
        entities = conn.execute(
            text(
                "SELECT count(DISTINCT e.cluster_id) FROM entity_mentions m "
                "JOIN entities e ON e.id = m.entity_id JOIN documents d ON d.id = m.document_id "
                "WHERE d.source_id = :s"
            ),
            {"s": source_id},
        ).scalar_one()
    return {
        "pages": int(pages),
        "documents": int(documents),
        "skipped": int(skipped),
        "duplicates": int(duplicates),
        "chunks": int(chunks),
        "vectors": int(vectors),
        "entities": int(entities),
    }


def print_entity_links(settings: Settings) -> None:
    """Each demo organisation's mentions (however written) and what it appears with."""
    from rich.table import Table

    from harvest.entities.service import find_entity

    table = Table(title="entities found in the text, resolved and linked")
    for column in ("entity", "written as", "mentions", "appears with"):
        table.add_column(column)
    for name in DEMO_ENTITIES:
        view = find_entity(settings, name)
        with get_engine(settings).connect() as conn:
            written = (
                conn.execute(
                    text(
                        "SELECT DISTINCT m.surface FROM entity_mentions m "
                        "JOIN entities e ON e.id = m.entity_id "
                        "WHERE e.cluster_id = :c ORDER BY 1"
                    ),
                    {"c": view.id},
                )
                .scalars()
                .all()
            )
        table.add_row(
            escape(view.name),
            escape(" / ".join(written)),
            f"{view.mentions} in {view.documents} docs",
            escape(", ".join(r["name"] for r in view.related[:4])),
        )
    console.print(table)


def run_demo(settings: Settings, *, serve_after: bool, site_port: int, api_port: int | None) -> int:
    from harvest.cli.jobs import pipeline_table, wait_for
    from harvest.cli.search import print_results
    from harvest.cli.up import serve
    from harvest.jobs.pipeline import start_pipeline
    from harvest.search.engine import Searcher
    from harvest.search.request import SearchRequest

    # the demo crawls its own site on loopback, which the crawler refuses unless allowed
    hosts = sorted(set(settings.crawl_allowed_hosts) | {"127.0.0.1"})
    settings = settings.model_copy(update={"crawl_allowed_hosts": hosts})
    engine = get_engine(settings)
    site = DemoSite(port=site_port)
    try:
        site.start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConflictError(
                f"port {site_port} is in use (is another `harvest demo` running?); pass --site-port"
            ) from error
        raise
    log_path = settings.data_dir / "logs" / "demo.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("a", encoding="utf-8")
    stack = Stack(settings, emit=lambda line: print(line, file=log, flush=True))
    try:
        scripted = sum(a.rendered_by_javascript for a in ARTICLES)
        console.print(
            f"[bold]Harvest demo[/]: the bundled news site at {site.base} ({len(ARTICLES)} articles, "
            f"{scripted} rendered by JavaScript, a sitemap)"
        )
        result = apply_sources(engine, [parse_spec(demo_source_spec(site.base))])
        console.print(f"source 'demo': {'registered' if result.created else 'already registered'}")
        imported = import_records(engine, read_records(CATALOG), None)
        console.print(
            f"entity catalog: {imported.created} new, {imported.updated} known organisations, people "
            "and places"
        )
        serve(settings, stack, workers=1, port=None, api=False)
        console.print(f"a worker runs the queue (its log: {escape(str(log_path))})")
        view = start_pipeline(settings, "demo", trigger="demo")
        try:
            view = wait_for(view, current=settings, workers_alive=lambda: stack.exited() is None)
        except StoreUnavailableError:
            console.print(f"[red]the demo's worker stopped[/]; its log: {escape(str(log_path))}")
            return 1
        if view.status != "succeeded":
            console.print(pipeline_table(view))
            console.print(
                f"[red]the demo pipeline {view.status}:[/] {escape(view.message or 'no reason given')}\n"
                f"the worker's log: {escape(str(log_path))}"
            )
            return 1
        searcher = Searcher(settings)
        started = time.perf_counter()
        model = searcher.load_model()
        console.print(
            f"\nloaded the query model {escape(model or '')} in {time.perf_counter() - started:.1f} s; "
            "searching for:"
        )
        for number, query in enumerate(DEMO_QUERIES, start=1):
            console.print(f"\n[bold]question {number}:[/] {escape(query)}")
            print_results(searcher.search(SearchRequest(query, "hybrid", limit=3)))
        print_entity_links(settings)
        counts = demo_counts(settings)
        if serve_after:
            serve(settings, stack, workers=0, port=api_port, api=True)
            _explain(settings, api_port or settings.api_port, site.base)
            stack.wait()
        console.print(
            "RESULT demo " + " ".join(f"{key}={value}" for key, value in counts.items()),
            highlight=False,
            soft_wrap=True,
        )
        return 0
    finally:
        stack.stop()
        site.stop()
        log.close()


def _explain(settings: Settings, port: int, site: str) -> None:
    token = "$HARVEST_API_TOKEN" if settings.api_token.get_secret_value() != "change-me" else "change-me"
    console.print(
        f"\n[bold]Harvest is up.[/] Try:\n"
        f"  curl -H 'Authorization: Bearer {token}' 'http://127.0.0.1:{port}/api/search?q=solar+farm'\n"
        f"  .venv/bin/harvest search 'wind turbines at sea'\n"
        f"  open http://127.0.0.1:{port}/docs  (the API's OpenAPI docs)\n"
        f"The demo site stays at {site} while this runs. Ctrl-C stops everything.",
        highlight=False,
    )
