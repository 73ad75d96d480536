"""The one place where failures become HTTP answers: a status and `{"error": {"code", "message"}}`."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from harvest.api.limits import RateLimitedError, retry_after_header
from harvest.errors import HarvestError

logger = logging.getLogger(__name__)


def error_body(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    if status == 401:
        headers = (headers or {}) | {"WWW-Authenticate": "Bearer"}
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def _code(error: HarvestError) -> str:
    name = type(error).__name__.removesuffix("Error")
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_") or "error"


def _describe(error: RequestValidationError) -> str:
    parts = []
    for problem in error.errors()[:3]:
        location = [str(p) for p in problem.get("loc", ()) if p not in ("body",)]
        where = f"{location[0]} {'.'.join(location[1:])}".strip() if location else "request"
        parts.append(f"{where}: {str(problem.get('msg', 'is invalid')).removeprefix('Value error, ')}")
    return "; ".join(parts) or "the request is invalid"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HarvestError)
    async def harvest_error(request: Request, error: HarvestError) -> JSONResponse:
        if error.http_status >= 500:
            logger.error("%s %s failed: %s", request.method, request.url.path, error.message)
        headers = retry_after_header(error) if isinstance(error, RateLimitedError) else None
        return error_body(error.http_status, _code(error), error.message, headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        return error_body(422, "invalid_input", _describe(error))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return error_body(error.status_code, code, str(error.detail))

    @app.exception_handler(DataError)
    async def refused_value(request: Request, error: DataError) -> JSONResponse:
        # e.g. a NUL byte or an out-of-range number that got past validation: the input's fault
        reason = str(getattr(error, "orig", error)).splitlines()[0]
        return error_body(422, "invalid_input", f"the database refused a value: {reason}")

    @app.exception_handler(UnicodeEncodeError)
    async def unencodable(request: Request, error: UnicodeEncodeError) -> JSONResponse:
        # JSON can carry a lone surrogate ("\ud800") that no store can: the input's fault, not ours
        return error_body(422, "invalid_input", "the request contains text that is not valid Unicode")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("%s %s crashed", request.method, request.url.path)
        return error_body(500, "internal", f"internal error ({type(error).__name__}); see the server log")
