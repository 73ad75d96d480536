"""`harvest search`, `harvest eval search` and `harvest api serve`."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import console, err_console, escape, print_json
from harvest.errors import InvalidInputError
from harvest.processes import exit_now
from harvest.search.request import MODES, Filters, Mode, SearchRequest
from harvest.settings import Settings

if TYPE_CHECKING:
    from harvest.search.results import SearchResults

eval_app = typer.Typer(help="Measure quality on labelled data.", no_args_is_help=True)
api_app = typer.Typer(help="Harvest's HTTP API.", no_args_is_help=True)


def _mode(value: str) -> Mode:
    if value not in MODES:
        raise InvalidInputError(f"--mode must be one of {', '.join(MODES)}, not {value!r}")
    return value


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise InvalidInputError(f"{option} {value!r} is not a date (YYYY-MM-DD)") from error


def _entity_id(name_or_id: str) -> int:
    from harvest.entities.service import find_entity

    return find_entity(settings(), name_or_id).id


def _marked(snippet: str) -> str:
    """The API's HTML snippet as terminal markup: matches bold, entities back to text."""
    import html

    parts = re.split(r"(<mark>|</mark>)", snippet)
    out, bold = [], False
    for part in parts:
        if part in ("<mark>", "</mark>"):
            bold = part == "<mark>"
            continue
        text = escape(html.unescape(part))
        out.append(f"[bold yellow]{text}[/]" if bold else text)
    return "".join(out)


def search(
    query: str = typer.Argument(..., help='Plain words, "a phrase", -excluded, or.'),
    mode: str = typer.Option("hybrid", "--mode", "-m", help="vector, keyword or hybrid."),
    k: int = typer.Option(10, "-k", "--limit", min=1, max=100, help="Results per page (1 to 100)."),
    offset: int = typer.Option(0, min=0, max=999, help="Skip this many results (pagination)."),
    source: list[str] = typer.Option([], "--source", "-s", help="Only this source (repeatable)."),
    language: list[str] = typer.Option([], "--language", help="Only this language, e.g. en (repeatable)."),
    label: list[str] = typer.Option([], "--label", help="Source label KEY or KEY=VALUE (repeatable)."),
    predicted: list[str] = typer.Option([], "--predicted", help="A model's predicted label: MODEL=LABEL."),
    entity: list[str] = typer.Option(
        [], "--entity", "-e", help="Mentions this entity: id or name (repeatable)."
    ),
    since: str | None = typer.Option(None, help="Published (else fetched) on or after YYYY-MM-DD."),
    until: str | None = typer.Option(None, help="Published (else fetched) on or before YYYY-MM-DD."),
    local: bool = typer.Option(
        False, "--local", help="Search in this process even when a running Harvest API could answer."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Search documents: meaning (vector), words (keyword) or both fused (hybrid).

    When `harvest up` (or `harvest api serve`) runs on this installation, its API answers: its query
    model is already loaded. Otherwise the model is loaded here first, and that time is shown apart."""
    current = settings()
    checked_mode = _mode(mode)
    date_from, date_to = _date(since, "--since"), _date(until, "--until")
    api = None
    if not local and not current.embeddings_url:
        from harvest.cli.remote import find_running_api

        api = find_running_api(current)
    if api is not None:
        params: list[tuple[str, str | int | float | bool | None]] = [
            ("q", query),
            ("mode", checked_mode),
            ("limit", k),
            ("offset", offset),
        ]
        params += [("source", s) for s in source] + [("language", lang) for lang in language]
        params += [("label", lab) for lab in label] + [("entity", e) for e in entity]
        params += [("predicted", p) for p in predicted]
        params += [(n, str(d)) for n, d in (("date_from", date_from), ("date_to", date_to)) if d]
        results = api.search(params)
        note: str | None = f"answered by the running Harvest API at {api.url} (its query model stays loaded)"
        load_s = None
    else:
        results, load_s = _search_here(
            current,
            SearchRequest(
                query,
                checked_mode,
                k,
                offset,
                Filters(
                    sources=tuple(source),
                    languages=tuple(language),
                    labels=tuple(label),
                    predicted=tuple(predicted),
                    entities=tuple(_entity_id(e) for e in entity),
                    date_from=date_from,
                    date_to=date_to,
                ),
            ),
        )
        note = (
            f"query embedded by the embeddings service at {current.embeddings_url}"
            if current.embeddings_url
            else None
        )
    if as_json:
        from dataclasses import asdict

        print_json(asdict(results) | ({"model_load_s": round(load_s, 3)} if load_s is not None else {}))
        return
    print_results(results)
    if load_s is not None:
        console.print(
            f"[dim]loading the query model took {load_s:.1f} s (not counted above); `harvest up` keeps it "
            "loaded for every search[/]"
        )
    if note:
        console.print(f"[dim]{escape(note)}[/]")


def _search_here(current: Settings, request: SearchRequest) -> tuple[SearchResults, float | None]:
    """Search in this process; the query model's load is timed apart from the search itself."""
    import time

    from harvest.search.engine import Searcher

    searcher = Searcher(current)
    load_s = None
    if request.mode != "keyword" and not current.embeddings_url:
        started = time.perf_counter()
        if searcher.load_model(fallback=False) is not None:
            load_s = time.perf_counter() - started
    return searcher.search(request), load_s


def print_results(results: SearchResults) -> None:
    offset = results.offset
    for warning in results.warnings:
        console.print(f"[yellow]note:[/] {escape(warning)}")
    if not results.hits:
        console.print(f"no results for {escape(results.query or '')!r} ({results.mode})")
        return
    table = Table(
        title=f"{escape(results.query or '')!r}: {results.mode} search · {len(results.hits)} results · "
        f"{results.took_ms:.0f} ms",
        show_lines=True,
    )
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("document")
    table.add_column("snippet", ratio=3)
    for rank, hit in enumerate(results.hits, start=offset + 1):
        title = escape(hit.title or "(untitled)")
        table.add_row(
            str(rank),
            f"{hit.score:.3f}",
            f"[bold]{title}[/]\n{escape(hit.url)}\n[dim]doc {hit.document_id} · {escape(hit.source)}[/]",
            _marked(hit.snippet),
        )
    console.print(table)
    if results.next_offset is not None:
        console.print(f"[dim]more: --offset {results.next_offset}[/]")


@eval_app.command("search")
def eval_search(
    queries: Path | None = typer.Option(None, help='JSONL: {"id": …, "query": …} per line.'),
    qrels: Path | None = typer.Option(
        None, help="TREC qrels: QUERY_ID 0 DOC RELEVANCE (DOC: id, URL or path)."
    ),
    mode: list[str] = typer.Option([], "--mode", "-m", help="Modes to compare (default: all three)."),
    source: list[str] = typer.Option([], "--source", "-s", help="Only this source (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as JSON."),
) -> None:
    """MRR@10, nDCG@10, recall@10/100 per search mode. Without files: the bundled demo-site dev set."""
    from harvest.search.engine import Searcher
    from harvest.search.evaluation import DEVSET_DIR, evaluate, load_qrels, load_queries

    query_file = queries or DEVSET_DIR / "queries.jsonl"
    qrels_file = qrels or DEVSET_DIR / "qrels.tsv"
    loaded_queries, loaded_qrels = load_queries(query_file), load_qrels(qrels_file)
    modes = [_mode(m) for m in mode] or list(MODES)
    scores = evaluate(
        Searcher(settings()), loaded_queries, loaded_qrels, modes, filters=Filters(sources=tuple(source))
    )
    unmatched = scores[0].unmatched
    if unmatched:
        shown = ", ".join(unmatched[:3]) + (" …" if len(unmatched) > 3 else "")
        err_console.print(
            f"[yellow]warning:[/] {len(unmatched)} judged documents match no stored document "
            f"(scored as not found): {escape(shown)}",
            highlight=False,
            soft_wrap=True,
        )
    if as_json:
        print_json({s.mode: s.means for s in scores})
        return
    table = Table(title=f"search quality · {scores[0].queries} queries · {escape(str(query_file))}")
    table.add_column("mode")
    for label in scores[0].means:
        table.add_column(label, justify="right")
    for score in scores:
        table.add_row(score.mode, *(f"{value:.3f}" for value in score.means.values()))
    console.print(table)


@api_app.command("serve")
def api_serve(
    host: str | None = typer.Option(None, help="Address (default HARVEST_API_HOST)."),
    port: int | None = typer.Option(None, min=1, max=65535, help="Port (default HARVEST_API_PORT)."),
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs). The query model loads at start; /api/health says
    `ready` when it is in memory."""
    import logging

    import uvicorn

    from harvest.api.app import create_app
    from harvest.cli.remote import forget_api, record_api

    current = settings()
    bind_host, bind_port = host or current.api_host, port or current.api_port
    app = create_app(current)
    console.print(
        f"Harvest API on http://{bind_host}:{bind_port} (docs: /docs); loading the query model, "
        "/api/health says ready when done"
    )
    config = uvicorn.Config(app, host=bind_host, port=bind_port, log_level=current.log_level.lower())
    # health checks (load balancers, `harvest up` waiting for ready) would drown the access log
    logging.getLogger("uvicorn.access").addFilter(
        lambda record: "/api/health" not in record.getMessage() or " 200" not in record.getMessage()
    )
    recorded = record_api(current, bind_host, bind_port)
    try:
        uvicorn.Server(config).run()
    finally:
        forget_api(recorded)
    exit_now(0)  # stopped (SIGTERM / Ctrl-C): no seconds of interpreter teardown after a loaded model
