"""Query parameters a route does not declare are refused (422), not silently ignored: a typo such as
`/api/documents?langauge=fr` must not answer with everything."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from harvest.errors import InvalidInputError

_declared: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


def declared_query_params(route: APIRoute) -> frozenset[str]:
    """Every query parameter the route and its dependencies declare (computed once per route)."""
    names = _declared.get(id(route))
    if names is None:
        names = _declared[id(route)] = frozenset(_query_names(route.dependant))
    return names


def refuse_unknown_query(request: Request) -> None:
    """An app-wide dependency: compare the request's query parameters with the route's."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    unknown = sorted(set(request.query_params) - declared_query_params(route))
    if unknown:
        allowed = ", ".join(sorted(declared_query_params(route))) or "none"
        shown = ", ".join(repr(name[:60]) for name in unknown[:5])
        plural = "s" if len(unknown) > 1 else ""
        raise InvalidInputError(f"unknown query parameter{plural} {shown} (this endpoint takes: {allowed})")
