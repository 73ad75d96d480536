"""GET /api/search: vector, keyword or hybrid search with filters and pagination."""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from harvest.api.auth import require_read, settings_of
from harvest.api.limits import rate_limit
from harvest.api.schemas import SearchResponse
from harvest.errors import InvalidInputError
from harvest.search.engine import Searcher
from harvest.search.request import Filters, Mode, SearchRequest
from harvest.search.results import SearchResults
from harvest.text import check_text

router = APIRouter(
    prefix="/api", tags=["search"], dependencies=[Depends(require_read), Depends(rate_limit("search"))]
)


_searcher_lock = threading.Lock()


def searcher_of(request: Request) -> Searcher:
    state = request.app.state
    with _searcher_lock:
        if state.searcher is None:  # an app built with connect=False
            state.searcher = Searcher(settings_of(request))
        searcher: Searcher = state.searcher
    return searcher


def results_json(results: SearchResults) -> SearchResponse:
    data = asdict(results)
    data["items"] = data.pop("hits")
    return SearchResponse.model_validate(data | {"total": None})


def entity_ids(request: Request, values: list[str]) -> tuple[int, ...]:
    """`entity=` takes an entity id or a name (typos welcome: the best fuzzy match)."""
    from harvest.entities.service import find_entity

    ids = []
    for value in values:
        value = value.strip()
        if not check_text(value, "entity filter") or len(value) > 300:
            raise InvalidInputError("entity filter must be an entity id or a name (1 to 300 characters)")
        if value.isascii() and value.isdigit():
            ids.append(int(value))
        else:
            ids.append(find_entity(settings_of(request), value).id)
    return tuple(ids)


@router.get("/search", response_model=SearchResponse)
def search(
    request: Request,
    q: Annotated[str, Query(description='the query; plain words, "phrases", -exclusions, OR')],
    mode: Annotated[Mode, Query()] = "hybrid",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0, le=999)] = 0,
    source: Annotated[list[str] | None, Query(description="only these sources")] = None,
    language: Annotated[list[str] | None, Query(description="only these languages (en, de, …)")] = None,
    date_from: Annotated[date | None, Query(description="published (else fetched) on or after")] = None,
    date_to: Annotated[date | None, Query(description="published (else fetched) on or before")] = None,
    label: Annotated[list[str] | None, Query(description="source label KEY or KEY=VALUE")] = None,
    predicted: Annotated[
        list[str] | None, Query(description="a model's predicted label: MODEL=LABEL")
    ] = None,
    entity: Annotated[
        list[str] | None,
        Query(description="documents mentioning this entity: an id or a name (fuzzy)"),
    ] = None,
    ef_search: Annotated[int | None, Query(ge=1, le=1000)] = None,
    vector_weight: Annotated[float | None, Query(ge=0, le=100)] = None,
    keyword_weight: Annotated[float | None, Query(ge=0, le=100)] = None,
) -> SearchResponse:
    filters = Filters(
        sources=tuple(source or ()),
        languages=tuple(language or ()),
        date_from=date_from,
        date_to=date_to,
        labels=tuple(label or ()),
        predicted=tuple(predicted or ()),
        entities=entity_ids(request, entity or []),
    )
    found = searcher_of(request).search(
        SearchRequest(q, mode, limit, offset, filters, ef_search, vector_weight, keyword_weight)
    )
    return results_json(found)


class SearchBody(BaseModel):
    """The same search as GET, as JSON: for long queries, or a query vector of your own."""

    q: str = Field(description="the query (keyword matching and snippets)")
    mode: Mode = "hybrid"
    limit: int = Field(10, ge=1, le=100)
    offset: int = Field(0, ge=0, le=999)
    source: list[str] = Field(default_factory=list, max_length=50)
    language: list[str] = Field(default_factory=list, max_length=20)
    date_from: date | None = None
    date_to: date | None = None
    label: list[str] = Field(default_factory=list, max_length=20)
    predicted: list[str] = Field(
        default_factory=list, max_length=20, description="a model's predicted label: MODEL=LABEL"
    )
    entity: list[int | str] = Field(
        default_factory=list, max_length=20, description="entity ids or names (fuzzy)"
    )
    ef_search: int | None = Field(None, ge=1, le=1000)
    vector_weight: float | None = Field(None, ge=0, le=100)
    keyword_weight: float | None = Field(None, ge=0, le=100)
    vector: list[float] | None = Field(
        None, max_length=8192, description="query vector of the active model (instead of encoding q)"
    )


@router.post("/search", response_model=SearchResponse)
def search_json(request: Request, body: SearchBody) -> SearchResponse:
    filters = Filters(
        sources=tuple(body.source),
        languages=tuple(body.language),
        date_from=body.date_from,
        date_to=body.date_to,
        labels=tuple(body.label),
        predicted=tuple(body.predicted),
        entities=entity_ids(request, [str(e) for e in body.entity]),
    )
    found = searcher_of(request).search(
        SearchRequest(
            body.q,
            body.mode,
            body.limit,
            body.offset,
            filters,
            body.ef_search,
            body.vector_weight,
            body.keyword_weight,
            tuple(body.vector) if body.vector is not None else None,
        )
    )
    return results_json(found)
