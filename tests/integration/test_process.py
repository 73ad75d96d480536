"""Processing real crawled pages into documents and chunks, against the embedded PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psutil
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from harvest.crawl.runner import run_crawl
from harvest.crawl.runs import create_run, finish_run
from harvest.crawl.sources import add_source, edit_source, source_id
from harvest.crawl.spec import parse_spec
from harvest.crawl.writer import CrawlWriter, PageOutcome
from harvest.db.engine import get_engine
from harvest.db.models import Chunk, Document, DocumentVersion
from harvest.process.persist import PROCESSOR_VERSION
from harvest.process.runner import process_pending
from harvest.settings import Settings, settings_env
from harvest.storage import open_raw_store
from tests.conftest import make_settings
from tests.sites.testsite import FOOTER, NAV, LocalSite

LONG_PARAGRAPHS = [
    "Solar panels convert sunlight into electricity through the photovoltaic effect, and modern cells "
    "reach efficiencies above twenty percent in ordinary rooftop installations across many climates.",
    "Wind turbines capture kinetic energy from moving air; their output grows with the cube of wind "
    "speed, which is why engineers place them on ridges, coasts and open plains far from obstacles.",
    "Hydroelectric dams store water behind concrete walls and release it through turbines on demand, "
    "giving grid operators a fast and flexible way to balance supply against changing consumption.",
    "Battery storage smooths the daily swings of renewable generation, charging at noon when solar "
    "output peaks and discharging in the evening when households return home and demand rises.",
]


GARDEN_PARAGRAPHS = [
    "Tomatoes need at least six hours of direct sun, steady watering at the roots and a support stake, "
    "otherwise the heavy trusses bend the stems and the fruit rots where it touches the wet soil.",
    "Compost returns kitchen scraps to the garden: layers of green leaves and brown straw, turned every "
    "few weeks, break down into a dark crumbly humus that feeds worms and improves any clay bed.",
    "Bees visit lavender, borage and clover from spring to autumn, so a border of these flowers near "
    "the vegetables brings pollinators that raise the harvest of beans, squash and strawberries.",
    "Mulching with wood chips keeps moisture in the ground during dry summers, suppresses weeds without "
    "chemicals and slowly adds organic matter as the chips decay under the feet of the gardener.",
]


def energy_page(paragraphs: list[str], nav: str = NAV, footer: str = FOOTER, sections: bool = False) -> str:
    body = "".join(
        (f"<h2>Part {n}</h2>" if sections else "") + f"<p>{p}</p>" for n, p in enumerate(paragraphs, 1)
    )
    return (
        "<html><head><title>Renewable energy</title><meta name='author' content='Ada Writer'></head>"
        f"<body>{nav}<article><h1>Renewable energy</h1>{body}</article>{footer}</body></html>"
    )


@pytest.fixture(scope="module")
def site() -> Iterator[LocalSite]:
    server = LocalSite().start()
    server.set_page("/garden", energy_page(GARDEN_PARAGRAPHS, sections=True))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def settings(db_settings: Settings) -> Settings:
    return make_settings(
        **db_settings.model_dump()
        | {
            "crawl_allowed_hosts": ["127.0.0.1"],
            "crawl_timeout_s": 1.0,
            "crawl_retries": 0,
            "chunk_min_tokens": 8,
        }
    )


_names = iter(range(10_000))


def new_source(settings: Settings, start: str, **fields: object) -> str:
    name = f"p{next(_names)}"
    add_source(get_engine(settings), parse_spec({"name": name, "start_urls": [start], **fields}))
    return name


def store_pages(settings: Settings, source: str, pages: dict[str, tuple[bytes, str | None]]) -> None:
    """Store raw versions through the crawler's own writer (as a crawl would), without fetching."""
    engine = get_engine(settings)
    run_id = create_run(engine, source)
    with open_raw_store(settings) as raw:
        writer = CrawlWriter(engine, raw, run_id=run_id, source_id=source_id(engine, source), source=source)
        writer.write(
            [
                PageOutcome("fetched", url=url, body=body, content_type=ctype, http_status=200)
                for url, (body, ctype) in pages.items()
            ]
        )
    finish_run(engine, run_id, "succeeded")


def documents_by_url(settings: Settings) -> dict[str, Document]:
    with Session(get_engine(settings), expire_on_commit=False) as session:
        return {d.url: d for d in session.scalars(select(Document))}


def chunk_ids(settings: Settings, document_id: int) -> list[str]:
    with Session(get_engine(settings)) as session:
        return list(
            session.scalars(select(Chunk.id).where(Chunk.document_id == document_id).order_by(Chunk.ordinal))
        )


def test_crawled_pages_become_clean_documents(settings: Settings, site: LocalSite) -> None:
    source = new_source(settings, site.base + "/", exclude=["/slow", "/huge", "/loop/"])
    assert run_crawl(settings, source).status == "partial"  # /error500 fails; the rest is kept
    report = process_pending(settings, source)
    assert report.processed > 0
    docs = documents_by_url(settings)
    article = docs[site.base + "/articles/2"]
    assert article.title == "Article 2" and article.author == "Ada Writer" and article.language == "en"
    assert "Article 2 explains topic number 2" in article.text
    for boilerplate in ("About us", "Contact", "Copyright", "Cookie settings"):
        assert boilerplate not in article.text
    assert chunk_ids(settings, article.id)
    latin = docs[site.base + "/latin1"]
    assert "Café crème" in latin.text and latin.language == "fr"
    assert docs[site.base + "/report.pdf"].skip_reason == "content type application/pdf is not HTML"
    assert docs[site.base + "/"].skip_reason == "no main text: navigation or boilerplate only"
    # the redirect stored the same article under another URL: an exact duplicate, not chunked
    redirected = docs[site.base + "/redirect-to-article"]
    assert redirected.duplicate_of_id == docs[site.base + "/articles/1"].id
    assert chunk_ids(settings, redirected.id) == []

    again = process_pending(settings, source)
    assert again.processed == 0  # a rerun does nothing

    # an upgrade that changes what pages become (PROCESSOR_VERSION) processes the older documents again
    with Session(get_engine(settings)) as session:
        older = session.scalars(select(Document).where(Document.url == site.base + "/articles/2")).one()
        older.processor_version = PROCESSOR_VERSION - 1
        session.commit()
    assert process_pending(settings, source).processed == 1
    assert process_pending(settings, source).processed == 0


def test_near_duplicates_with_other_boilerplate_point_at_the_first(settings: Settings) -> None:
    source = new_source(settings, "https://news.example.org/")
    other_nav = "<nav><a href='/'>Start</a> <a href='/shop'>Shop now</a> <a href='/login'>Log in</a></nav>"
    other_footer = "<footer>(c) Another Publisher Ltd. Terms of use. Newsletter sign-up.</footer>"
    edited = [*LONG_PARAGRAPHS[:3], LONG_PARAGRAPHS[3].replace("households", "families")]
    store_pages(
        settings,
        source,
        {
            "https://news.example.org/a": (energy_page(LONG_PARAGRAPHS).encode(), "text/html"),
            "https://news.example.org/b": (
                energy_page(edited, other_nav, other_footer).encode(),
                "text/html",
            ),
            "https://news.example.org/c": (energy_page(LONG_PARAGRAPHS[:1]).encode(), "text/html"),
        },
    )
    report = process_pending(settings, source)
    assert report.near_duplicates == 1
    docs = documents_by_url(settings)
    first, second, short = (docs[f"https://news.example.org/{k}"] for k in "abc")
    assert second.duplicate_of_id == first.id and second.meta.get("duplicate") == "near"
    assert short.duplicate_of_id is None  # a quarter of the article is a different document
    assert chunk_ids(settings, second.id) == []


def test_bad_pages_are_recorded_with_a_reason_and_the_batch_goes_on(db_settings: Settings) -> None:
    settings = make_settings(**db_settings.model_dump() | {"process_max_chars": 5000})
    source = new_source(settings, "https://odd.example.org/")
    huge = "<html><body>" + "<p>" + ("A long sentence of real words repeated many times. " * 40) + "</p>" * 1
    store_pages(
        settings,
        source,
        {
            "https://odd.example.org/empty": (b"", "text/html"),
            "https://odd.example.org/image": (b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png"),
            "https://odd.example.org/binary": (b"\x00\x01\x02" * 100, None),
            "https://odd.example.org/boiler": (
                f"<html><body>{NAV}{FOOTER}</body></html>".encode(),
                "text/html",
            ),
            "https://odd.example.org/huge": ((huge * 100 + "</body></html>").encode(), "text/html"),
            "https://odd.example.org/bytes": (  # a UTF-8 BOM, then bytes no UTF-8 decoder accepts
                b"\xef\xbb\xbf<html><body><p>Valid words around broken bytes \xff\xfe\xfd in the middle "
                b"of a line.</p></body></html>",
                "text/html",
            ),
            "https://odd.example.org/fine": (
                energy_page(LONG_PARAGRAPHS[1:2]).encode(),
                "text/html; charset=utf-8",
            ),
        },
    )
    report = process_pending(settings, source)
    assert report.processed == 7
    docs = {url.rsplit("/", 1)[1]: d for url, d in documents_by_url(settings).items() if "odd.example" in url}
    assert docs["empty"].skip_reason == "empty page"
    assert docs["image"].skip_reason == "content type image/png is not HTML"
    assert docs["binary"].skip_reason == "binary content without a content type"
    assert docs["boiler"].skip_reason == "no main text: navigation or boilerplate only"
    assert docs["huge"].meta["truncated"] is True and len(docs["huge"].text) <= 5000
    assert docs["bytes"].meta["undecodable_bytes"] is True and "broken bytes" in docs["bytes"].text
    assert docs["fine"].skip_reason is None and "Wind turbines" in docs["fine"].text


def test_editing_one_paragraph_changes_only_its_sections_chunk(settings: Settings, site: LocalSite) -> None:
    # chunks of 64 tokens: each section (a paragraph of ~45 tokens) is a chunk of its own
    settings = make_settings(**settings.model_dump() | {"chunk_max_tokens": 64})
    source = new_source(settings, site.base + "/garden", max_pages=1)
    run_crawl(settings, source)
    process_pending(settings, source)
    document = documents_by_url(settings)[site.base + "/garden"]
    before = chunk_ids(settings, document.id)
    assert len(before) == 4  # one chunk per section
    with Session(get_engine(settings)) as session:
        chunks = session.scalars(
            select(Chunk).where(Chunk.document_id == document.id).order_by(Chunk.ordinal)
        )
        assert [(c.title, c.heading) for c in chunks] == [
            ("Renewable energy", f"Part {n}") for n in range(1, 5)
        ]

    edited = list(GARDEN_PARAGRAPHS)
    edited[2] = edited[2].replace("lavender, borage and clover", "lavender, thyme and clover")
    site.set_page("/garden", energy_page(edited, sections=True))
    assert run_crawl(settings, source).counts["changed"] == 1
    report = process_pending(settings, source)
    assert (report.processed, report.chunks_added, report.chunks_removed) == (1, 1, 1)
    after = chunk_ids(settings, document.id)
    assert after[:2] == before[:2] and after[3] == before[3]
    assert after[2] != before[2]
    with Session(get_engine(settings)) as session:
        versions = session.scalars(
            select(DocumentVersion.page_version).where(DocumentVersion.document_id == document.id)
        ).all()
    assert sorted(versions) == [1, 2]  # the document keeps its history


@pytest.mark.slow
def test_a_killed_process_run_loses_and_duplicates_nothing(db_settings: Settings) -> None:
    settings = make_settings(**db_settings.model_dump() | {"process_batch_size": 2})
    source = new_source(settings, "https://many.example.org/")
    pages = {}
    for n in range(120):
        paragraphs = [
            f"Page {n} paragraph {i}: " + LONG_PARAGRAPHS[i].replace("the", f"the{n}") for i in range(4)
        ]
        pages[f"https://many.example.org/{n}"] = (energy_page(paragraphs).encode(), "text/html")
    store_pages(settings, source, pages)
    worker = subprocess.Popen(
        [sys.executable, "-m", "harvest", "process", source],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    engine = get_engine(settings)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with Session(engine) as session:
            done = session.scalar(
                select(func.count()).select_from(Document).where(Document.url.like("https://many.%"))
            )
        if done and done >= 10:
            break
        time.sleep(0.05)
    helpers = psutil.Process(worker.pid).children(recursive=True)
    assert helpers  # the extraction pool was running (HARVEST_PROCESS_WORKERS defaults to the cores)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    _, alive = psutil.wait_procs(helpers, timeout=10)
    assert not alive  # the pool's forkserver and workers do not outlive the run
    # Batches may commit between the poll and the kill: count what really survived.
    with Session(engine) as session:
        survived = session.scalar(
            select(func.count()).select_from(Document).where(Document.url.like("https://many.%"))
        )
    assert survived is not None and 10 <= survived < 120

    report = process_pending(settings, source)
    assert report.processed == 120 - survived
    with Session(engine) as session:
        per_doc = session.execute(
            select(Document.id, func.count(Chunk.id))
            .join(Chunk, Chunk.document_id == Document.id)
            .where(Document.url.like("https://many.%"))
            .group_by(Document.id)
        ).all()
        histories = session.scalar(
            select(func.count())
            .select_from(DocumentVersion)
            .join(Document)
            .where(Document.url.like("https://many.%"))
        )
    assert len(per_doc) == 120 and {count for _, count in per_doc} == {1}  # 4 paragraphs packed in one
    assert histories == 120


@pytest.mark.slow
def test_ctrl_c_stops_the_pool_cleanly_and_a_rerun_finishes(db_settings: Settings) -> None:
    settings = make_settings(**db_settings.model_dump() | {"process_batch_size": 2, "process_workers": 2})
    source = new_source(settings, "https://interrupted.example.org/")
    pages = {}
    for n in range(80):
        paragraphs = [f"Item {n} note {i}: " + LONG_PARAGRAPHS[i].replace("a", f"a{n}") for i in range(4)]
        pages[f"https://interrupted.example.org/{n}"] = (energy_page(paragraphs).encode(), "text/html")
    store_pages(settings, source, pages)
    # its own session, like a terminal's foreground job: Ctrl-C reaches the workers as well
    worker = subprocess.Popen(
        [sys.executable, "-m", "harvest", "process", source],
        env=settings_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    engine = get_engine(settings)
    like = Document.url.like("https://interrupted.%")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with Session(engine) as session:
            done = session.scalar(select(func.count()).select_from(Document).where(like))
        if done and done >= 6:
            break
        time.sleep(0.05)
    helpers = psutil.Process(worker.pid).children(recursive=True)
    os.killpg(worker.pid, signal.SIGINT)
    _, stderr = worker.communicate(timeout=30)
    assert worker.returncode == 130 and "Traceback" not in stderr.decode()
    _, alive = psutil.wait_procs(helpers, timeout=10)
    assert not alive
    with Session(engine) as session:
        survived = session.scalar(select(func.count()).select_from(Document).where(like)) or 0
    assert process_pending(settings, source).processed == 80 - survived
    with Session(engine) as session:
        chunked = session.scalar(
            select(func.count(func.distinct(Chunk.document_id))).join(Document).where(like)
        )
    assert chunked == 80


def test_force_reprocesses_after_new_rules_and_chunk_settings(settings: Settings) -> None:
    source = new_source(settings, "https://forced.example.org/")
    paragraphs = [  # text of its own: no other test's document may make this one a duplicate
        "Lighthouse keepers trimmed wicks, wound clockwork and logged every passing ship through long "
        "winter nights, long before automation replaced them with sealed electric lamps and sensors.",
        "The lens of a lighthouse gathers light into a narrow beam; a first-order Fresnel lens stands "
        "taller than a person and sends its flash more than twenty nautical miles over open water.",
        "Each lighthouse flashes its own rhythm, so sailors can tell one coast from another at night by "
        "counting seconds between the flashes and looking the pattern up in their printed light lists.",
    ]
    page = energy_page(paragraphs).replace("<h1>", "<span class='price'>12 EUR</span><h1>")
    store_pages(settings, source, {"https://forced.example.org/a": (page.encode(), "text/html")})
    process_pending(settings, source)
    document = documents_by_url(settings)["https://forced.example.org/a"]
    before = chunk_ids(settings, document.id)
    assert process_pending(settings, source).processed == 0  # nothing new: nothing done

    # new extraction rules and a smaller chunk size: only --force applies them to stored pages
    edit_source(get_engine(settings), source, {"extraction": {"fields": {"price": {"css": ".price::text"}}}})
    smaller = make_settings(**settings.model_dump() | {"chunk_max_tokens": 24, "chunk_overlap_tokens": 4})
    report = process_pending(smaller, source, force=True)
    assert report.processed == 1 and report.chunks_added > 0
    again = documents_by_url(settings)["https://forced.example.org/a"]
    assert again.id == document.id and again.fields == {"price": "12 EUR"}
    after = chunk_ids(settings, document.id)
    assert len(after) > len(before)  # smaller chunks: more of them (unchanged ones keep their ids)
    # forced again with the same settings: the same chunks (same ids), nothing added or removed
    same = process_pending(smaller, source, force=True)
    assert (same.processed, same.chunks_added, same.chunks_removed) == (1, 0, 0)
    assert chunk_ids(settings, document.id) == after
