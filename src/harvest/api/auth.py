"""Bearer-token checks: writes always need HARVEST_API_TOKEN; reads too unless HARVEST_API_PUBLIC_READS."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from harvest.errors import HarvestError
from harvest.settings import Settings

bearer = HTTPBearer(auto_error=False, description="HARVEST_API_TOKEN")


class UnauthorizedError(HarvestError):
    """No token, or the wrong one."""

    exit_code = 2
    http_status = 401


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _matches(given: str, settings: Settings) -> bool:
    expected = settings.api_token.get_secret_value().encode()
    # surrogateescape: a header that is not valid text is compared byte for byte, never a crash
    return secrets.compare_digest(given.encode("utf-8", "surrogateescape"), expected)


def token_valid(credentials: HTTPAuthorizationCredentials | None, settings: Settings) -> bool:
    return credentials is not None and _matches(credentials.credentials, settings)


def _check(credentials: HTTPAuthorizationCredentials | None, settings: Settings) -> None:
    if credentials is None:
        raise UnauthorizedError("this endpoint needs `Authorization: Bearer <HARVEST_API_TOKEN>`")
    if not _matches(credentials.credentials, settings):
        raise UnauthorizedError("the bearer token is wrong")


def require_write(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    _check(credentials, settings_of(request))


def require_read(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> None:
    settings = settings_of(request)
    if not settings.api_public_reads:
        _check(credentials, settings)
