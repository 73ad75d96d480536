"""/api/entities: fuzzy lookup, one entity, its mentions and related entities, merge and split."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from harvest.api.auth import require_read, require_write, settings_of
from harvest.api.schemas import EntityFacet, EntityMention, EntityView, RelatedEntity, SplitResult
from harvest.entities.facets import entity_facets
from harvest.entities.service import get_entity, link, mentions_of, search_entities
from harvest.errors import InvalidInputError

router = APIRouter(prefix="/api/entities", tags=["entities"])
EntityId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class Pair(BaseModel):
    first: int = Field(ge=1, le=2**63 - 1)
    second: int = Field(ge=1, le=2**63 - 1)


@router.get("", dependencies=[Depends(require_read)], response_model=list[EntityView])
def search(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=300, description="a name, typos welcome")],
    type: Annotated[str | None, Query(max_length=50, pattern=r"^[a-z][a-z0-9_-]*$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> list[dict[str, Any]]:
    return [asdict(view) for view in search_entities(settings_of(request), q, limit, type)]


@router.get("/facets", dependencies=[Depends(require_read)], response_model=list[EntityFacet])
def facets(
    request: Request,
    document: Annotated[list[int], Query(max_length=200, description="document ids (e.g. search hits)")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[EntityFacet]:
    """The entities these documents mention, by how many of them mention each (search facets)."""
    if any(not 1 <= d <= 2**63 - 1 for d in document):
        raise InvalidInputError("document ids are positive integers", field="document")
    return [EntityFacet.model_validate(row) for row in entity_facets(settings_of(request), document, limit)]


@router.get("/{entity_id}", dependencies=[Depends(require_read)], response_model=EntityView)
def entity(request: Request, entity_id: EntityId) -> dict[str, Any]:
    """The entity's cluster: name, aliases, attributes, mention counts, related entities, trend."""
    return asdict(get_entity(settings_of(request), entity_id))


@router.get("/{entity_id}/mentions", dependencies=[Depends(require_read)], response_model=list[EntityMention])
def mentions(
    request: Request,
    entity_id: EntityId,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[dict[str, Any]]:
    return mentions_of(settings_of(request), entity_id, limit, offset)


@router.get("/{entity_id}/related", dependencies=[Depends(require_read)], response_model=list[RelatedEntity])
def related(request: Request, entity_id: EntityId) -> list[dict[str, Any]]:
    """Entities mentioned in the same chunks, weighted by how many chunks and documents."""
    return get_entity(settings_of(request), entity_id).related


@router.post("/merge", dependencies=[Depends(require_write)], response_model=EntityView)
def merge(request: Request, pair: Pair) -> dict[str, Any]:
    """The two are the same thing; kept across every later resolution."""
    link(settings_of(request), pair.first, pair.second, "merge")
    return asdict(get_entity(settings_of(request), pair.first))


@router.post("/split", dependencies=[Depends(require_write)], response_model=SplitResult)
def split(request: Request, pair: Pair) -> dict[str, Any]:
    """The two are different things; kept across every later resolution."""
    link(settings_of(request), pair.first, pair.second, "split")
    return {
        "first": asdict(get_entity(settings_of(request), pair.first)),
        "second": asdict(get_entity(settings_of(request), pair.second)),
    }
