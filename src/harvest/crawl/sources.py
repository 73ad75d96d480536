"""Sources in PostgreSQL: add, list, show, edit, remove, and declarative YAML apply/export."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from harvest.crawl.safety import url_warnings
from harvest.crawl.spec import SourceSpec, parse_spec
from harvest.db.models import Source
from harvest.errors import ConflictError, InvalidInputError, NotFoundError

logger = logging.getLogger(__name__)

# SourceSpec field -> Source column, where the names differ.
_COLUMNS = {
    "include": "include_patterns",
    "exclude": "exclude_patterns",
    "render": "render_mode",
    "wait_for": "wait_for_selector",
    "concurrency": "concurrency_per_domain",
    "delay": "delay_s",
    "extraction": "extraction_rules",
}


class UnreadableSourceError(InvalidInputError):
    """A stored source row that no longer validates even with its bad fields reset."""


def url_warnings_of(spec: SourceSpec, allowed_hosts: list[str]) -> list[str]:
    """What the crawler will refuse or cannot resolve among a source's start and sitemap URLs."""
    return url_warnings([*spec.start_urls, *spec.sitemap_urls], allowed_hosts)


def spec_of(row: Source) -> SourceSpec:
    data = {field: getattr(row, _COLUMNS.get(field, field)) for field in SourceSpec.model_fields}
    try:
        return SourceSpec.model_validate(data)
    except ValidationError as error:
        return _repaired(row.name, data, error)


def _repaired(name: str, data: dict[str, Any], error: ValidationError) -> SourceSpec:
    """A stored row that does not validate (written by an older version, or by hand) must not take every
    listing down: its invalid fields read as their defaults, so it can be listed, fixed or removed."""
    bad = sorted({str(e["loc"][0]) for e in error.errors() if e.get("loc")} - {"name"})
    logger.error(
        "stored source has invalid fields; reading them as defaults", extra={"source": name, "fields": bad}
    )
    try:
        return SourceSpec.model_validate({k: v for k, v in data.items() if k not in bad})
    except ValidationError as again:
        reason = str(again.errors()[0].get("msg", "invalid")).removeprefix("Value error, ")
        raise UnreadableSourceError(
            f"source {name!r} is stored with invalid settings ({reason}); remove it and add it again"
        ) from again


def _readable(row: Source) -> SourceSpec | None:
    try:
        return spec_of(row)
    except UnreadableSourceError:
        return None  # the file's version replaces it


def _storable(spec: SourceSpec) -> SourceSpec:
    """What reading the row back will give: refused before anything is written if it would not validate."""
    return parse_spec(spec.model_dump())


def _assign(row: Source, spec: SourceSpec) -> None:
    dumped = spec.model_dump()
    for field, value in dumped.items():
        setattr(row, _COLUMNS.get(field, field), value)


def add_source(engine: Engine, spec: SourceSpec) -> SourceSpec:
    stored = _storable(spec)
    with Session(engine) as session:
        if session.scalar(select(Source.id).where(Source.name == spec.name)) is not None:
            raise ConflictError(f"a source named {spec.name!r} exists; edit it or choose another name")
        row = Source(name=spec.name)
        _assign(row, spec)
        session.add(row)
        try:
            session.commit()
        except IntegrityError as error:
            raise ConflictError(f"a source named {spec.name!r} exists") from error
        return stored


def get_source(engine: Engine, name: str) -> SourceSpec:
    return spec_of(_row(engine, name))


def source_id(engine: Engine, name: str) -> int:
    return _row(engine, name).id


def _row(engine: Engine, name: str) -> Source:
    with Session(engine, expire_on_commit=False) as session:
        row = session.scalar(select(Source).where(Source.name == name))
        if row is None:
            raise NotFoundError(f"no source named {name!r}", hint="see `harvest source list`")
        return row


def list_sources(engine: Engine) -> list[SourceSpec]:
    """Every source that can be read (one that cannot even with defaults is logged and left out)."""
    specs = []
    with Session(engine) as session:
        for row in session.scalars(select(Source).order_by(Source.name)):
            try:
                specs.append(spec_of(row))
            except UnreadableSourceError as error:
                logger.error("source left out of the list: %s", error.message)
    return specs


def edit_source(engine: Engine, name: str, changes: dict[str, Any]) -> SourceSpec:
    """Apply field changes to a source; the result must validate as a whole or nothing changes."""
    with Session(engine) as session:
        row = session.scalar(select(Source).where(Source.name == name))
        if row is None:
            raise NotFoundError(f"no source named {name!r}", hint="see `harvest source list`")
        merged = spec_of(row).model_dump() | changes
        new_urls = "start_urls" in changes or "sitemap_urls" in changes
        if new_urls and "allowed_domains" not in changes:
            merged["allowed_domains"] = []  # derive them again from the new URLs
        spec = _storable(parse_spec(merged))
        if spec.name != name:
            raise InvalidInputError("a source cannot be renamed; add a new one and remove the old")
        _assign(row, spec)
        session.commit()
        return spec


def remove_source(engine: Engine, name: str) -> None:
    """Delete a source and (by cascade) its runs, pages, documents and chunks in PostgreSQL."""
    with Session(engine) as session:
        deleted = session.execute(delete(Source).where(Source.name == name).returning(Source.id)).all()
        if not deleted:
            raise NotFoundError(f"no source named {name!r}", hint="see `harvest source list`")
        session.commit()


@dataclass(frozen=True)
class ApplyResult:
    created: list[str]
    updated: list[str]
    unchanged: list[str]
    removed: list[str]


def load_yaml(path: Path) -> list[SourceSpec]:
    """Read `sources: [...]` (or a bare list) from YAML, validating every source before any is used."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInputError(f"cannot read {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise InvalidInputError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from error
    items = document.get("sources") if isinstance(document, dict) else document
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidInputError(f"{path}: expected a list of sources under 'sources:'")
    specs = [parse_spec(item) for item in items]
    names = [spec.name for spec in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InvalidInputError(f"{path}: source {duplicates[0]!r} is defined more than once")
    return specs


def apply_sources(engine: Engine, specs: list[SourceSpec], *, prune: bool = False) -> ApplyResult:
    """Make the stored sources match `specs` in one transaction (and, with prune, remove the rest)."""
    created, updated, unchanged, removed = [], [], [], []
    with Session(engine) as session:
        existing = {row.name: row for row in session.scalars(select(Source))}
        for spec in map(_storable, specs):
            row = existing.get(spec.name)
            if row is None:
                row = Source(name=spec.name)
                _assign(row, spec)
                session.add(row)
                created.append(spec.name)
            elif _readable(row) != spec:
                _assign(row, spec)
                updated.append(spec.name)
            else:
                unchanged.append(spec.name)
        if prune:
            wanted = {spec.name for spec in specs}
            for name, row in existing.items():
                if name not in wanted:
                    session.delete(row)
                    removed.append(name)
        session.commit()
    return ApplyResult(created, updated, unchanged, sorted(removed))


def export_yaml(specs: list[SourceSpec]) -> str:
    """YAML that `apply` reads back to the same sources (defaults left out for readability)."""
    items = [spec.model_dump(exclude_defaults=True) | {"name": spec.name} for spec in specs]
    ordered = [{"name": item.pop("name"), **item} for item in items]
    return yaml.safe_dump({"sources": ordered}, sort_keys=False, allow_unicode=True)
