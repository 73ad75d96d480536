"""/api/entities: list or fuzzy lookup, one entity, its mentions and related entities, merge and split."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from harvest.api.auth import require_read, require_write, settings_of
from harvest.api.schemas import EntityOut, EntitySummary, Mention, Page, RelatedEntity, SplitResult, page_of
from harvest.entities.service import (
    EntityView,
    count_entities,
    get_entity,
    link,
    list_entities,
    mentions_of,
    search_entities,
)

router = APIRouter(prefix="/api/entities", tags=["entities"])
EntityId = Annotated[int, Path(ge=1, le=2**63 - 1)]
MAX_LOOKUP = 100


class Pair(BaseModel):
    first: int = Field(ge=1, le=2**63 - 1)
    second: int = Field(ge=1, le=2**63 - 1)


def _summary(view: EntityView) -> EntitySummary:
    data = asdict(view)
    data.pop("related")
    data.pop("trend")
    return EntitySummary.model_validate(data)


def _full(view: EntityView) -> EntityOut:
    return EntityOut.model_validate(asdict(view))


@router.get("", response_model=Page[EntitySummary], dependencies=[Depends(require_read)])
def entities(
    request: Request,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=300, description="a name to look up, typos welcome (else: list all)"),
    ] = None,
    type: Annotated[str | None, Query(max_length=50, pattern=r"^[a-z][a-z0-9_-]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LOOKUP)] = 10,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[EntitySummary]:
    """Every entity cluster by name, or with `q` the best fuzzy matches of a name, best first."""
    settings = settings_of(request)
    if q is None:
        found = [_summary(v) for v in list_entities(settings, type, limit, offset)]
        return page_of(found, limit=limit, offset=offset, total=count_entities(settings, type))
    if offset + limit > MAX_LOOKUP:
        return page_of([], limit=limit, offset=offset, more=False)
    ranked = [_summary(v) for v in search_entities(settings, q, offset + limit + 1, type)]
    return page_of(ranked[offset:], limit=limit, offset=offset)


@router.get("/{entity_id}", response_model=EntityOut, dependencies=[Depends(require_read)])
def entity(request: Request, entity_id: EntityId) -> EntityOut:
    """The entity's cluster: name, aliases, attributes, mention counts, related entities, trend."""
    return _full(get_entity(settings_of(request), entity_id))


@router.get("/{entity_id}/mentions", response_model=Page[Mention], dependencies=[Depends(require_read)])
def mentions(
    request: Request,
    entity_id: EntityId,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Page[Mention]:
    """Where the entity (any member of its cluster) is mentioned, as written in the text."""
    settings = settings_of(request)
    total = get_entity(settings, entity_id, details=False).mentions
    found = [Mention.model_validate(m) for m in mentions_of(settings, entity_id, limit, offset)]
    return page_of(found, limit=limit, offset=offset, total=total)


@router.get("/{entity_id}/related", response_model=Page[RelatedEntity], dependencies=[Depends(require_read)])
def related(
    request: Request,
    entity_id: EntityId,
    limit: Annotated[int, Query(ge=1, le=10)] = 10,
    offset: Annotated[int, Query(ge=0, le=9)] = 0,
) -> Page[RelatedEntity]:
    """Entities mentioned in the same chunks, weighted by how many chunks and documents (the top 10)."""
    found = [RelatedEntity.model_validate(r) for r in get_entity(settings_of(request), entity_id).related]
    return page_of(found[offset : offset + limit], limit=limit, offset=offset, total=len(found))


@router.post("/merge", response_model=EntityOut, dependencies=[Depends(require_write)])
def merge(request: Request, pair: Pair) -> EntityOut:
    """The two are the same thing; kept across every later resolution."""
    link(settings_of(request), pair.first, pair.second, "merge")
    return _full(get_entity(settings_of(request), pair.first))


@router.post("/split", response_model=SplitResult, dependencies=[Depends(require_write)])
def split(request: Request, pair: Pair) -> SplitResult:
    """The two are different things; kept across every later resolution."""
    link(settings_of(request), pair.first, pair.second, "split")
    return SplitResult(
        first=_full(get_entity(settings_of(request), pair.first)),
        second=_full(get_entity(settings_of(request), pair.second)),
    )
