"""Which stage failures are retried, when, and which are outages (waited out, not counted)."""

from __future__ import annotations

import logging

import psycopg
import pytest
from procrastinate.exceptions import ConnectorException, JobAborted

from harvest.embeddings.client import EmbeddingsUnavailableError
from harvest.errors import InvalidInputError
from harvest.jobs.outages import first_line, is_connection_error
from harvest.jobs.stages import StageCancelled, StageInterrupted
from harvest.jobs.tasks import SettingsRetry, StageGaveUp, StageWaiting
from harvest.jobs.worker import QuietConnectionErrors


def _raised_from(cause: BaseException) -> ConnectorException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise ConnectorException("\n    Database error.\n    ") from inner
    except ConnectorException as outer:
        return outer


def test_outages_are_told_from_failures() -> None:
    lost = psycopg.OperationalError(
        'connection to server on socket "/x/.s.PGSQL.5432" failed\n\tIs it running?'
    )
    assert is_connection_error(_raised_from(lost))
    assert first_line(_raised_from(lost)) == 'connection to server on socket "/x/.s.PGSQL.5432" failed'
    assert is_connection_error(EmbeddingsUnavailableError("the embeddings service failed 4 times"))
    assert not is_connection_error(InvalidInputError("bad value"))
    assert not is_connection_error(ValueError("a bug"))


@pytest.mark.parametrize(
    ("error", "attempts", "expected"),
    [
        (StageInterrupted("shutdown"), 7, 0),  # back in the queue at once, whatever came before
        (StageCancelled("cancelled by a user"), 0, None),
        (JobAborted("cancelled"), 0, None),
        (StageGaveUp("failed 3 times"), 2, None),
        (StageWaiting("the database is gone"), 3, 8),  # backoff ...
        (StageWaiting("the database is gone"), 9, 30),  # ... capped at HARVEST_WORKER_RECONNECT_MAX_S
        (RuntimeError("a failed attempt"), 1, 10),  # HARVEST_JOB_RETRY_WAIT_S (5) doubling
    ],
)
def test_what_is_retried_and_when(error: BaseException, attempts: int, expected: int | None) -> None:
    assert SettingsRetry().get_schedule_in(exception=error, attempts=attempts) == expected


def test_a_lost_connection_is_logged_in_one_line() -> None:
    error = _raised_from(psycopg.OperationalError("server closed the connection unexpectedly\nmore"))
    record = logging.LogRecord(
        "procrastinate.worker",
        logging.ERROR,
        __file__,
        1,
        "Side task %s failed:\n  %s",
        ("listener", error),
        (type(error), error, None),
    )
    record.exception = "\n    Database error.\n    "
    assert QuietConnectionErrors().filter(record)
    assert record.exc_info is None
    assert record.getMessage() == (
        "Side task listener failed: Database error. [server closed the connection unexpectedly]"
    )
    assert "\n" not in record.exception


def test_other_errors_keep_their_traceback() -> None:
    error = ValueError("a bug")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", None, (ValueError, error, None))
    QuietConnectionErrors().filter(record)
    assert record.exc_info is not None
