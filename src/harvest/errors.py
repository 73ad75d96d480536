"""Harvest's own exceptions: messages a user can act on, each with the exit code and HTTP status it maps to.

Interfaces translate these in exactly one place each (the CLI in `harvest.cli.app`, the API in its
exception handler). The original low-level error stays in `__cause__`. The message suits every interface;
what to type next at the command line goes in `hint`, which only the CLI shows.
"""

from __future__ import annotations

from typing import ClassVar


class HarvestError(Exception):
    """Root of every error Harvest raises on purpose."""

    default_message: ClassVar[str] = "Harvest failed"
    exit_code: ClassVar[int] = 1
    http_status: ClassVar[int] = 500

    def __init__(self, message: str | None = None, *, hint: str | None = None) -> None:
        super().__init__(message or self.default_message)
        self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0])

    @property
    def cli_message(self) -> str:
        """The message with the command-line hint, e.g. "no source named 'x' (see `harvest source list`)"."""
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(HarvestError):
    """A setting is missing or invalid."""

    default_message = "invalid settings"
    exit_code = 78  # EX_CONFIG
    http_status = 500


class DataDirError(HarvestError):
    """The data directory cannot be used (not writable, foreign, corrupt)."""

    default_message = "the data directory cannot be used"
    exit_code = 73  # EX_CANTCREAT
    http_status = 500


class StoreUnavailableError(HarvestError):
    """A store (PostgreSQL, MongoDB, S3) cannot be reached or refused our credentials."""

    default_message = "a store is unreachable"
    exit_code = 69  # EX_UNAVAILABLE
    http_status = 503


class StoreCorruptionError(HarvestError):
    """Stored data failed an integrity check (e.g. a checksum)."""

    default_message = "stored data failed an integrity check"
    exit_code = 74  # EX_IOERR
    http_status = 500


class NotFoundError(HarvestError):
    """The thing asked for does not exist."""

    default_message = "not found"
    exit_code = 2
    http_status = 404


class InvalidInputError(HarvestError):
    """The user's input cannot be accepted as given."""

    default_message = "invalid input"
    exit_code = 2
    http_status = 422


class ConflictError(HarvestError):
    """The request conflicts with what is stored (e.g. a name already taken)."""

    default_message = "conflict with stored data"
    exit_code = 2
    http_status = 409
