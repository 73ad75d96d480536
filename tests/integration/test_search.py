"""Search on the crawled demo site: every mode, filters, pagination, similar documents, the dev set."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from harvest.db.engine import get_engine
from harvest.db.models import Document
from harvest.demo.articles import ARTICLES
from harvest.embeddings.store import register_model
from harvest.errors import ConflictError, InvalidInputError, NotFoundError
from harvest.search import keyword
from harvest.search.engine import Searcher
from harvest.search.evaluation import DEVSET_DIR, evaluate, load_qrels, load_queries
from harvest.search.ranking import Evidence
from harvest.search.request import Filters, SearchRequest
from harvest.settings import Settings, settings_env
from tests.conftest import run_cli
from tests.demo_corpus import demo_corpus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def corpus(db_settings: Settings) -> Iterator[Settings]:
    with demo_corpus(db_settings) as (settings, _site):
        yield settings


@pytest.fixture(scope="module")
def searcher(corpus: Settings) -> Searcher:
    return Searcher(corpus)


def path(url: str) -> str:
    return urlsplit(url).path


def test_javascript_articles_are_searchable_by_their_rendered_text(searcher: Searcher) -> None:
    found = searcher.search(SearchRequest("Grindavík evacuated", "keyword", limit=3))
    assert path(found.hits[0].url) == "/articles/reykjanes-eruption"
    assert "<mark>Grindavík</mark>" in found.hits[0].snippet


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
def test_every_mode_puts_the_relevant_page_first_for_each_dev_set_query(
    searcher: Searcher, mode: str
) -> None:
    queries = load_queries(DEVSET_DIR / "queries.jsonl")
    qrels = load_qrels(DEVSET_DIR / "qrels.tsv")
    for qid, query in queries.items():
        found = searcher.search(SearchRequest(query, mode, limit=5))  # type: ignore[arg-type]
        assert found.hits, (mode, query)
        assert path(found.hits[0].url) in qrels[qid], (mode, query, [h.url for h in found.hits])


def test_evaluation_reports_each_mode(searcher: Searcher) -> None:
    scores = evaluate(
        searcher, load_queries(DEVSET_DIR / "queries.jsonl"), load_qrels(DEVSET_DIR / "qrels.tsv")
    )
    assert [s.mode for s in scores] == ["vector", "keyword", "hybrid"]
    for score in scores:
        assert score.queries == 20
        assert set(score.means) == {"ndcg@10", "recall@10", "recall@100", "mrr@10"}
        assert score.means["mrr@10"] == 1.0  # the relevant page first, every time (previous test)
        assert score.unmatched == []


def test_evaluation_normalises_paths_and_refuses_qrels_that_match_nothing(
    searcher: Searcher, tmp_path: Path
) -> None:
    queries = {"q1": "honey bees on city roofs"}
    slashless = {"q1": {"articles/urban-beekeeping-paris": 1}}  # no leading slash, as people write it
    [scores] = evaluate(searcher, queries, slashless, ["keyword"])
    assert scores.means["mrr@10"] == 1.0 and not scores.unmatched
    full_url = {"q1": {"http://elsewhere.example/articles/urban-beekeeping-paris#top": 1, "/nope": 1}}
    [scores] = evaluate(searcher, queries, full_url, ["keyword"])
    assert scores.means["mrr@10"] == 1.0 and scores.unmatched == ["/nope"]
    with pytest.raises(InvalidInputError, match="none of the 1 judged documents is a stored document"):
        evaluate(searcher, queries, {"q1": {"/no/such/page": 1}}, ["keyword"])


@pytest.mark.parametrize("mode", ["vector", "keyword", "hybrid"])
def test_result_pages_do_not_depend_on_the_page_size(searcher: Searcher, mode: str) -> None:
    """Page k of size n is the k-th slice of one long list, whatever n is, in every mode."""
    query = "energy and power for cities"
    full = [h.document_id for h in searcher.search(SearchRequest(query, mode, limit=100)).hits]  # type: ignore[arg-type]
    assert len(full) >= 12
    for size in (1, 3, 5, 10):
        for offset in range(0, 12, size):
            page = searcher.search(SearchRequest(query, mode, limit=size, offset=offset))  # type: ignore[arg-type]
            assert [h.document_id for h in page.hits] == full[offset : offset + size], (size, offset)


def test_keyword_search_keeps_exact_syntax(searcher: Searcher) -> None:
    phrase = searcher.search(SearchRequest('"lava barriers"', "keyword"))
    assert [path(h.url) for h in phrase.hits] == ["/articles/reykjanes-eruption"]
    excluded = searcher.search(SearchRequest("glacier -Rhône", "keyword"))
    assert all("rhone" not in h.url for h in excluded.hits)
    # a word no page has: plain queries still find pages with the other words, all-words pages first
    partial = searcher.search(SearchRequest("sourdough zyzzyva", "keyword", limit=3))
    assert path(partial.hits[0].url) == "/articles/sourdough-san-francisco"


def test_word_statistics_tell_very_common_words_as_counting_would(
    corpus: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With one text-search configuration, the planner's statistics stand in for counting a very common
    word's chunks: the same documents and scores while they are current, and they are used."""
    engine = get_engine(corpus)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE chunks"))  # a small table: the sample is every chunk, the shares exact
    evidence = Evidence(weight=corpus.search_chunk_evidence)
    # a handful of chunks is "very common" here, as 2,000 are in a large corpus
    monkeypatch.setattr(keyword, "COMMON_DF", 3)
    monkeypatch.setattr(keyword, "SURELY_COMMON_DF", 3)
    queries = [*load_queries(DEVSET_DIR / "queries.jsonl").values(), "the energy of the city"]
    shortcut_used = False
    with engine.connect() as conn:
        length = keyword.average_chunk_length(conn)
        for query in queries:
            counted = keyword.keyword_documents(
                conn, query, ["english"], [], {}, evidence, 1001, average_length=length
            )
            estimated = keyword.keyword_documents(
                conn, query, ["english"], [], {}, evidence, 1001, average_length=length, statistics=True
            )
            assert counted, query
            assert estimated == counted, query
        # statistics that overstate how common words are (as if far behind the table) change the
        # scores: the shortcut is taken, and only for words the statistics put in that many chunks
        monkeypatch.setattr(keyword, "COMMON_DF", 1000)
        for query in queries:
            counted = keyword.keyword_documents(
                conn, query, ["english"], [], {}, evidence, 1001, average_length=length
            )
            estimated = keyword.keyword_documents(
                conn, query, ["english"], [], {}, evidence, 1001, average_length=length, statistics=True
            )
            shortcut_used |= estimated != counted
    assert shortcut_used


def test_filters(searcher: Searcher, corpus: Settings) -> None:
    query = "energy"
    news = searcher.search(SearchRequest(query, "hybrid", limit=50, filters=Filters(labels=("kind=news",))))
    assert news.hits
    assert not searcher.search(SearchRequest(query, "hybrid", filters=Filters(labels=("kind=blog",)))).hits
    assert searcher.search(SearchRequest(query, "keyword", filters=Filters(labels=("site",)))).hits
    assert not searcher.search(SearchRequest(query, "hybrid", filters=Filters(languages=("de",)))).hits
    assert searcher.search(SearchRequest(query, "hybrid", filters=Filters(languages=("en",)))).hits
    early = searcher.search(
        SearchRequest("energy power", "hybrid", limit=50, filters=Filters(date_to=date(2025, 12, 31)))
    )
    published = {a.path: a.published for a in ARTICLES}
    assert early.hits
    for hit in early.hits:
        assert hit.published_at is not None and hit.published_at.date() <= date(2025, 12, 31)
        assert published[path(hit.url)] <= "2025-12-31"
    with pytest.raises(NotFoundError, match="no source named 'nope'"):
        searcher.search(SearchRequest(query, filters=Filters(sources=("nope",))))
    assert searcher.search(SearchRequest(query, filters=Filters(sources=("demo",)))).hits


def test_pagination_is_disjoint_and_ordered(searcher: Searcher) -> None:
    first = searcher.search(SearchRequest("the energy of the sun and wind", "vector", limit=5))
    second = searcher.search(SearchRequest("the energy of the sun and wind", "vector", limit=5, offset=5))
    assert first.next_offset == 5
    ids = [h.document_id for h in first.hits + second.hits]
    assert len(ids) == len(set(ids)) == 10
    scores = [h.score for h in first.hits + second.hits]
    assert scores == sorted(scores, reverse=True)


def test_similar_documents(searcher: Searcher, corpus: Settings) -> None:
    with Session(get_engine(corpus)) as session:
        solar = session.scalar(select(Document.id).where(Document.url.like("%/solar-farm-lisbon")))
    assert solar is not None
    similar = searcher.similar(solar, limit=5)
    paths = [path(h.url) for h in similar.hits]
    assert "/articles/solar-farm-lisbon" not in paths
    energy = {a.path for a in ARTICLES if a.section == "energy"} | {"/section/energy"}
    assert set(paths) & energy, paths  # its own topic (the section page lists its title)
    assert [h.score for h in similar.hits] == sorted((h.score for h in similar.hits), reverse=True)
    with pytest.raises(NotFoundError):
        searcher.similar(10**9)


def test_bad_requests_are_refused_with_a_reason(searcher: Searcher) -> None:
    cases = [
        (SearchRequest("   "), "empty"),
        (SearchRequest("x" * 10_000), "10000 characters"),
        (SearchRequest("ok", limit=0), "limit"),
        (SearchRequest("ok", limit=101), "limit"),
        (SearchRequest("ok", offset=-1), "offset"),
        (SearchRequest("ok", mode="fuzzy"), "mode"),  # type: ignore[arg-type]
        (SearchRequest("ok\x00"), "NUL"),
    ]
    for request, reason in cases:
        with pytest.raises(InvalidInputError, match=reason):
            searcher.search(request)
    with pytest.raises(InvalidInputError, match="KEY=VALUE"):
        Filters(labels=("a b",))
    with pytest.raises(InvalidInputError, match="after"):
        Filters(date_from=date(2026, 2, 1), date_to=date(2026, 1, 1))


def test_a_model_being_built_does_not_disturb_search(searcher: Searcher, corpus: Settings) -> None:
    engine = get_engine(corpus)
    before = searcher.search(SearchRequest("honey on city roofs", "vector"))
    # a second model: registered, its index created, a few vectors written, not active yet
    other = register_model(engine, "in-progress-model", 8, hnsw_m=16, ef_construction=64)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO chunk_embeddings (model_id, chunk_id, embedding) "
                "SELECT :m, id, '[1,0,0,0,0,0,0,0]' FROM chunks LIMIT 5"
            ),
            {"m": other},
        )
    after = searcher.search(SearchRequest("honey on city roofs", "vector"))
    assert after.model == before.model
    assert [h.chunk_id for h in after.hits] == [h.chunk_id for h in before.hits]


def test_without_embeddings_hybrid_falls_back_to_keywords(searcher: Searcher, corpus: Settings) -> None:
    engine = get_engine(corpus)
    with engine.begin() as conn:
        conn.execute(text("UPDATE embedding_models SET active = false"))
    try:
        hybrid = searcher.search(SearchRequest("rooftop beehives", "hybrid"))
        assert hybrid.warnings and "keywords only" in hybrid.warnings[0]
        assert path(hybrid.hits[0].url) == "/articles/urban-beekeeping-paris"
        with pytest.raises(ConflictError, match="no embeddings yet") as refused:
            searcher.search(SearchRequest("rooftop beehives", "vector"))
        assert "harvest embed" in refused.value.cli_message  # the command line's hint, not the API's
    finally:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE embedding_models SET active = true "
                    "WHERE id = (SELECT min(id) FROM embedding_models)"
                )
            )


def test_cli_search_and_eval(corpus: Settings) -> None:
    env = {k: v for k, v in settings_env(corpus).items() if k.startswith("HARVEST_")}
    shown = run_cli("search", "salt water in rice fields", "--mode", "keyword", "-k", "3", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "Salt water creeps into the Mekong" in shown.stdout
    evaluated = run_cli("eval", "search", "--json", env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    assert '"hybrid"' in evaluated.stdout and '"ndcg@10"' in evaluated.stdout
    bad = run_cli("search", "x", "--mode", "fuzzy", env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "--mode" in bad.stderr
    missing = run_cli("eval", "search", "--queries", "/nonexistent.jsonl", env=env)
    assert missing.returncode == 2 and "does not exist" in missing.stderr
