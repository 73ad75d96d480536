"""What a source is, validated: the shape `harvest source add/edit/apply` accept and the crawler reads."""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harvest.errors import InvalidInputError

RenderMode = Literal["static", "browser"]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_http_url(url: str) -> str:
    """An absolute http(s) URL with a host, or InvalidInputError saying what is wrong."""
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"}:
        raise ValueError(f"{url!r}: only http and https URLs can be crawled")
    if not parts.hostname:
        raise ValueError(f"{url!r}: the URL has no host")
    try:
        _ = parts.port
    except ValueError as error:
        raise ValueError(f"{url!r}: {error}") from error
    return url.strip()


class RenderRule(BaseModel):
    """URLs matching `pattern` (a regular expression) are fetched with `render`."""

    model_config = ConfigDict(extra="forbid")

    pattern: str
    render: RenderMode

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        return _check_pattern(value)


class SourceSpec(BaseModel):
    """A source: where to start, what is in scope, how to fetch, and labels for training."""

    model_config = ConfigDict(extra="forbid")

    name: str
    start_urls: list[str] = Field(default_factory=list)
    sitemap_urls: list[str] = Field(default_factory=list)
    allowed_domains: list[str] = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    max_depth: int | None = Field(default=None, ge=0)
    max_pages: int | None = Field(default=None, gt=0)
    # crawler-trap limits (None: the HARVEST_CRAWL_* default; see harvest.crawl.limits)
    max_url_length: int | None = Field(default=None, ge=64)
    max_path_repeats: int | None = Field(default=None, ge=1)
    max_query_variants: int | None = Field(default=None, ge=1)
    max_years_ahead: int | None = Field(default=None, ge=0)
    render: RenderMode = "static"
    render_rules: list[RenderRule] = Field(default_factory=list)
    wait_for: str | None = None
    concurrency: int = Field(default=4, ge=1, le=64)
    delay: float = Field(default=0.0, ge=0, le=600)
    user_agent: str | None = None
    schedule: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    extraction: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value!r} is not a valid source name: use letters, digits, '.', '_' or '-' (max 100)"
            )
        return value

    @field_validator("start_urls", "sitemap_urls")
    @classmethod
    def _urls(cls, values: list[str]) -> list[str]:
        return [check_http_url(url) for url in values]

    @field_validator("include", "exclude")
    @classmethod
    def _patterns(cls, values: list[str]) -> list[str]:
        return [_check_pattern(value) for value in values]

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, values: list[str]) -> list[str]:
        return clean_domains(values)

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        from harvest.cron import check_cron

        return check_cron(value) if value and value.strip() else None

    @field_validator("extraction")
    @classmethod
    def _extraction(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = set(value) - {"fields", "entities"}
        if unknown:
            raise ValueError(f"unknown extraction keys {sorted(unknown)}; use 'fields' (and 'entities')")
        fields = value.get("fields", {})
        entities = value.get("entities", {})
        if not isinstance(entities, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in entities.items()
        ):
            raise ValueError(
                "extraction.entities must map field names to entity types, e.g. {brand: organization}"
            )
        missing = sorted(set(entities) - set(fields if isinstance(fields, dict) else {}))
        if missing:
            raise ValueError(f"extraction.entities names fields that are not extracted: {missing}")
        if not isinstance(fields, dict):
            raise ValueError("extraction.fields must map field names to {css: …} or {xpath: …}")
        from parsel import Selector

        probe = Selector(text="<html></html>")
        for name, rule in fields.items():
            if not isinstance(rule, dict) or len(rule) != 1 or next(iter(rule)) not in {"css", "xpath"}:
                raise ValueError(f"extraction field {name!r} needs exactly one of css or xpath")
            kind, expression = next(iter(rule.items()))
            try:
                probe.css(expression) if kind == "css" else probe.xpath(expression)
            except Exception as error:
                raise ValueError(
                    f"extraction field {name!r}: invalid {kind} {expression!r}: {error}"
                ) from error
        return value

    @model_validator(mode="after")
    def _has_a_start(self) -> SourceSpec:
        if not self.start_urls and not self.sitemap_urls:
            raise ValueError("a source needs at least one start URL or sitemap URL")
        if not self.allowed_domains:
            hosts = {urlsplit(u).hostname or "" for u in [*self.start_urls, *self.sitemap_urls]}
            self.allowed_domains = clean_domains(sorted(h for h in hosts if h))
        return self

    def render_for(self, url: str) -> RenderMode:
        """The render mode for one URL: the first matching rule, else the source's default."""
        for rule in self.render_rules:
            if re.search(rule.pattern, url):
                return rule.render
        return self.render


def clean_domains(values: list[str]) -> list[str]:
    """Allowed domains as the crawler compares them: lower case, no trailing dot, IPs in canonical form."""
    cleaned = []
    for value in values:
        domain = value.strip().lower().rstrip(".")
        try:  # an IP address is a scope too (IPv6 without brackets, as URLs' hostnames give it)
            cleaned.append(str(ipaddress.ip_address(domain.strip("[]"))))
            continue
        except ValueError:
            pass
        if not domain or "/" in domain or ":" in domain or " " in domain:
            raise ValueError(f"{value!r} is not a domain name (write example.org, not a URL)")
        cleaned.append(domain)
    return cleaned


def _check_pattern(value: str) -> str:
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"{value!r} is not a valid regular expression: {error}") from error
    return value


def parse_spec(data: dict[str, Any]) -> SourceSpec:
    """Validate raw input into a SourceSpec, or raise InvalidInputError with one readable line."""
    try:
        return SourceSpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        name = data.get("name", "?") if isinstance(data, dict) else "?"
        prefix = f"source {name!r}" + (f", field {where}" if where else "")
        raise InvalidInputError(f"{prefix}: {message}") from error
