from __future__ import annotations

import logging

import pytest

from harvest import errors
from harvest.logs import KeyValueFormatter
from harvest.storage.object_store import check_key

ERROR_TYPES = [
    errors.ConfigError,
    errors.DataDirError,
    errors.StoreUnavailableError,
    errors.StoreCorruptionError,
    errors.NotFoundError,
    errors.InvalidInputError,
    errors.ConflictError,
]


@pytest.mark.parametrize("error_type", ERROR_TYPES)
def test_every_error_maps_to_an_exit_code_and_an_http_status(error_type: type[errors.HarvestError]) -> None:
    error = error_type()
    assert isinstance(error, errors.HarvestError)
    assert error.message == error_type.default_message
    assert error.exit_code != 0
    assert 400 <= error.http_status < 600


def test_client_errors_are_4xx_and_server_side_problems_5xx() -> None:
    assert errors.NotFoundError.http_status == 404
    assert errors.InvalidInputError.http_status == 422
    assert errors.StoreUnavailableError.http_status == 503


def test_log_extras_are_key_values() -> None:
    record = logging.LogRecord("harvest.x", logging.INFO, __file__, 1, "fetched page", None, None)
    record.url = "https://example.org/a b"
    record.status = 200
    line = KeyValueFormatter("%(levelname)s %(message)s").format(record)
    assert line == 'INFO fetched page url="https://example.org/a b" status=200'


@pytest.mark.parametrize("key", ["a", "models/run-1/model.pt", "snap/2026-11-25T00:00:00/x.parquet"])
def test_safe_keys(key: str) -> None:
    assert check_key(key) == key
