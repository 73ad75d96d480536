"""`harvest source …`: manage sources, one at a time or declaratively from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.table import Table

from harvest.cli.context import settings
from harvest.cli.output import (
    JSON_OPTION,
    check_output_file,
    confirm,
    console,
    escape,
    input_file,
    print_json,
    warning_line,
)
from harvest.errors import InvalidInputError

if TYPE_CHECKING:
    from harvest.crawl.spec import SourceSpec

app = typer.Typer(help="Manage crawl sources.", no_args_is_help=True)

URL_OPT = typer.Option(None, "--url", help="Start URL (repeat for several).")
SITEMAP_OPT = typer.Option(None, "--sitemap", help="Sitemap URL (repeat for several).")
DOMAIN_OPT = typer.Option(None, "--domain", help="Allowed domain (default: the start URLs' hosts).")
INCLUDE_OPT = typer.Option(None, "--include", help="Regex a URL must match to be followed.")
EXCLUDE_OPT = typer.Option(None, "--exclude", help="Regex that excludes a URL.")
RENDER_RULE_OPT = typer.Option(None, "--render-rule", help="PATTERN=static|browser, per URL pattern.")
LABEL_OPT = typer.Option(None, "--label", help="KEY=VALUE label (repeat for several).")


def _pairs(values: list[str] | None, what: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values or []:
        key, sep, rest = value.rpartition("=") if what == "render rule" else value.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"{what} {value!r} must look like KEY=VALUE")
        pairs.append((key, rest))
    return pairs


def _changes(**options: Any) -> dict[str, Any]:
    """Options the user gave, as SourceSpec fields (None and empty lists mean 'not given')."""
    changes: dict[str, Any] = {}
    renames = {"url": "start_urls", "sitemap": "sitemap_urls", "domain": "allowed_domains"}
    for name, value in options.items():
        if value is None or (isinstance(value, list | tuple) and not value):
            continue  # repeatable options not given arrive as empty tuples
        if isinstance(value, tuple):
            value = list(value)
        if name == "schedule" and value.strip().lower() in {"none", "off", ""}:
            changes["schedule"] = None  # remove the schedule
        elif name == "label":
            changes["labels"] = dict(_pairs(value, "label"))
        elif name == "render_rule":
            changes["render_rules"] = [{"pattern": p, "render": r} for p, r in _pairs(value, "render rule")]
        else:
            changes[renames.get(name, name)] = value
    return changes


MAX_DEPTH_OPT = typer.Option(None, help="Links followed at most this deep from a start URL (default 20).")
MAX_PAGES_OPT = typer.Option(None, help="Stop after this many pages (default 10000).")
RENDER_OPT = typer.Option(None, help="static (default) or browser (Chromium renders JS).")
WAIT_FOR_OPT = typer.Option(None, help="CSS selector a browser page must show first.")
CONCURRENCY_OPT = typer.Option(None, help="Parallel requests per domain (default 4).")
DELAY_OPT = typer.Option(None, help="Seconds between requests to a domain.")
USER_AGENT_OPT = typer.Option(None, help="User-Agent header.")
SCHEDULE_OPT = typer.Option(
    None, help="Cron schedule (UTC), e.g. '0 3 * * *' or @daily; 'none' removes the schedule."
)
MAX_URL_LENGTH_OPT = typer.Option(None, help="Longer URLs are not followed (default 2083).")
MAX_PATH_REPEATS_OPT = typer.Option(
    None, help="A path segment may occur at most this often in a URL (default 2)."
)
MAX_QUERY_VARIANTS_OPT = typer.Option(None, help="Distinct query strings followed per path (default 100).")
MAX_YEARS_AHEAD_OPT = typer.Option(
    None, help="Calendar trap guard: dates in URLs at most this many years ahead (default 1)."
)


def _warn_about_urls(spec: SourceSpec) -> None:
    from harvest.crawl import sources

    for line in sources.url_warnings_of(spec, settings().crawl_allowed_hosts):
        warning_line(line)


def _given_options(ctx: typer.Context) -> dict[str, Any]:
    """The command's options (all but the source name) as SourceSpec fields."""
    params = dict(ctx.params)
    params.pop("name", None)
    return _changes(**params)


@app.command()
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A unique name: letters, digits, '.', '_', '-'."),
    url: list[str] | None = URL_OPT,
    sitemap: list[str] | None = SITEMAP_OPT,
    domain: list[str] | None = DOMAIN_OPT,
    include: list[str] | None = INCLUDE_OPT,
    exclude: list[str] | None = EXCLUDE_OPT,
    max_depth: int | None = MAX_DEPTH_OPT,
    max_pages: int | None = MAX_PAGES_OPT,
    render: str | None = RENDER_OPT,
    render_rule: list[str] | None = RENDER_RULE_OPT,
    wait_for: str | None = WAIT_FOR_OPT,
    concurrency: int | None = CONCURRENCY_OPT,
    delay: float | None = DELAY_OPT,
    user_agent: str | None = USER_AGENT_OPT,
    schedule: str | None = SCHEDULE_OPT,
    label: list[str] | None = LABEL_OPT,
    max_url_length: int | None = MAX_URL_LENGTH_OPT,
    max_path_repeats: int | None = MAX_PATH_REPEATS_OPT,
    max_query_variants: int | None = MAX_QUERY_VARIANTS_OPT,
    max_years_ahead: int | None = MAX_YEARS_AHEAD_OPT,
) -> None:
    """Add a source."""
    from harvest.crawl import sources
    from harvest.crawl.spec import parse_spec
    from harvest.db.engine import get_engine

    spec = sources.add_source(get_engine(settings()), parse_spec({"name": name} | _given_options(ctx)))
    console.print(
        f"added source [bold]{escape(spec.name)}[/] ({', '.join(spec.start_urls or spec.sitemap_urls)})"
    )
    _warn_about_urls(spec)


@app.command()
def edit(
    ctx: typer.Context,
    name: str,
    url: list[str] | None = URL_OPT,
    sitemap: list[str] | None = SITEMAP_OPT,
    domain: list[str] | None = DOMAIN_OPT,
    include: list[str] | None = INCLUDE_OPT,
    exclude: list[str] | None = EXCLUDE_OPT,
    max_depth: int | None = MAX_DEPTH_OPT,
    max_pages: int | None = MAX_PAGES_OPT,
    render: str | None = RENDER_OPT,
    render_rule: list[str] | None = RENDER_RULE_OPT,
    wait_for: str | None = WAIT_FOR_OPT,
    concurrency: int | None = CONCURRENCY_OPT,
    delay: float | None = DELAY_OPT,
    user_agent: str | None = USER_AGENT_OPT,
    schedule: str | None = SCHEDULE_OPT,
    label: list[str] | None = LABEL_OPT,
    max_url_length: int | None = MAX_URL_LENGTH_OPT,
    max_path_repeats: int | None = MAX_PATH_REPEATS_OPT,
    max_query_variants: int | None = MAX_QUERY_VARIANTS_OPT,
    max_years_ahead: int | None = MAX_YEARS_AHEAD_OPT,
) -> None:
    """Change some fields of a source (list options replace the whole list)."""
    from harvest.crawl import sources
    from harvest.db.engine import get_engine

    changes = _given_options(ctx)
    if not changes:
        raise InvalidInputError("nothing to change: give at least one option (see --help)")
    spec = sources.edit_source(get_engine(settings()), name, changes)
    console.print(f"updated source [bold]{escape(name)}[/]: {', '.join(sorted(changes))}")
    if {"start_urls", "sitemap_urls"} & set(changes):
        _warn_about_urls(spec)


@app.command("list")
def list_command(as_json: bool = JSON_OPTION) -> None:
    """List sources."""
    from harvest.crawl import sources
    from harvest.db.engine import get_engine

    found = sources.list_sources(get_engine(settings()))
    if as_json:
        print_json([spec.model_dump(mode="json") for spec in found])
        return
    table = Table("name", "start", "render", "scope", "schedule", "labels")
    for spec in found:
        scope = ", ".join(spec.allowed_domains)
        if spec.max_pages:
            scope += f" (≤{spec.max_pages} pages)"
        table.add_row(
            spec.name,
            "\n".join(spec.start_urls or spec.sitemap_urls),
            spec.render,
            scope,
            spec.schedule or "",
            ", ".join(f"{k}={v}" for k, v in spec.labels.items()),
        )
    console.print(table)


@app.command()
def show(name: str, as_json: bool = JSON_OPTION) -> None:
    """Show one source as YAML (the form `harvest source apply` reads), or every field as JSON."""
    from harvest.crawl import sources
    from harvest.db.engine import get_engine

    spec = sources.get_source(get_engine(settings()), name)
    if as_json:
        print_json(spec.model_dump(mode="json"))
        return
    console.print(sources.export_yaml([spec]), end="", markup=False, highlight=False)


@app.command()
def remove(
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Remove a source with its runs, pages and raw page versions."""
    from harvest.crawl import sources
    from harvest.db.engine import get_engine
    from harvest.storage import open_raw_store

    engine = get_engine(settings())
    sources.source_id(engine, name)  # NotFoundError before asking anything (even for an unreadable row)
    if not yes:
        confirm(f"Remove source {name!r} and all its crawled data?")
    with open_raw_store(settings()) as raw:
        deleted = raw.delete_source(name)
    sources.remove_source(engine, name)
    console.print(f"removed source [bold]{escape(name)}[/] and {deleted} raw page versions")


@app.command()
def apply(
    path: Path = input_file("YAML file with `sources:` (see `harvest source export`)."),
    prune: bool = typer.Option(False, help="Also remove sources that the file does not list."),
) -> None:
    """Make the stored sources match a YAML file (idempotent)."""
    from harvest.crawl import sources
    from harvest.db.engine import get_engine

    specs = sources.load_yaml(path)
    result = sources.apply_sources(get_engine(settings()), specs, prune=prune)
    for label, names in (
        ("created", result.created),
        ("updated", result.updated),
        ("unchanged", result.unchanged),
        ("removed", result.removed),
    ):
        if names:
            console.print(f"{label}: {', '.join(names)}")
    changed = set(result.created) | set(result.updated)
    for spec in specs:
        if spec.name in changed:
            _warn_about_urls(spec)


@app.command()
def export(
    path: Path | None = typer.Argument(
        None, callback=check_output_file, help="Write to this file instead of the terminal."
    ),
) -> None:
    """Write every source as YAML that `harvest source apply` reads back."""
    import yaml

    from harvest.crawl import sources
    from harvest.db.engine import get_engine

    text = sources.export_yaml(sources.list_sources(get_engine(settings())))
    if path is None:
        console.print(text, end="", markup=False, highlight=False)
    else:
        path.write_text(text, encoding="utf-8")
        console.print(f"wrote {len(yaml.safe_load(text)['sources'])} sources to {path}")
