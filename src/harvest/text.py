"""Checks of user text that every interface and stage share."""

from __future__ import annotations

from harvest.errors import InvalidInputError


def check_text(value: str, what: str) -> str:
    """Text PostgreSQL can store: no NUL, no lone surrogate (JSON can carry "\\ud800"; UTF-8 cannot)."""
    if "\x00" in value:
        raise InvalidInputError(f"{what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} is not valid Unicode text (it has a lone surrogate)") from None
    return value
