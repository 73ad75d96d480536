"""Cron expressions, checked once for every way one comes in (CLI, API, YAML, settings): five fields or
an @alias, values in range, and a date that can actually come (`0 0 31 2 *` never does)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_SHAPE = re.compile(r"^(@(hourly|daily|weekly|monthly|yearly|annually|midnight)|(\S+\s+){4}\S+)$")
EXAMPLE = "five fields such as '0 3 * * *' (daily at 03:00 UTC), or @daily"


def check_cron(expression: str) -> str:
    """The expression, stripped, or ValueError saying what is wrong with it."""
    from croniter import CroniterError, croniter

    value = " ".join(expression.split())
    if not _SHAPE.match(value):
        raise ValueError(f"{expression!r} is not a cron schedule: use {EXAMPLE}")
    if not croniter.is_valid(value):
        raise ValueError(
            f"{expression!r} has a field out of range "
            "(minute 0-59, hour 0-23, day 1-31, month 1-12, weekday 0-6)"
        )
    try:
        croniter(value, datetime.now(UTC)).get_next(datetime)
    except CroniterError as error:
        raise ValueError(f"{expression!r} never fires (no such date): {error}") from error
    return value


def next_fire(expression: str, after: datetime) -> datetime:
    from croniter import croniter

    fire: datetime = croniter(expression, after).get_next(datetime)
    return fire


def fires_at(expression: str, minute: datetime) -> bool:
    from croniter import croniter

    return bool(croniter.match(expression, minute.replace(second=0, microsecond=0)))
