"""What counts as an outage (a store that cannot be reached right now) rather than a failure: a worker
waits for the store to come back instead of exiting, and a stage waits for it instead of spending one of
its attempts."""

from __future__ import annotations

import psycopg
from procrastinate import exceptions as queue_errors
from sqlalchemy import exc as sa_errors

from harvest.errors import StoreUnavailableError

CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    StoreUnavailableError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    queue_errors.ConnectorException,
    sa_errors.OperationalError,
    sa_errors.InterfaceError,
    ConnectionError,
)


def is_connection_error(error: BaseException) -> bool:
    """The error, or one it was raised from, says a store (PostgreSQL, the embeddings service, MongoDB,
    S3) cannot be reached."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, CONNECTION_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def first_line(error: BaseException) -> str:
    if isinstance(error, queue_errors.ConnectorException) and error.__cause__ is not None:
        error = error.__cause__  # procrastinate's own message is only "Database error."
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__
