"""Logging set-up: one logger per module (`logging.getLogger(__name__)`), structured fields via `extra=`."""

from __future__ import annotations

import logging
import sys
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra=` and is printed as key=value.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """`time level logger message key=value …` — greppable and readable in a terminal or a log file."""

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
        if not extras:
            return base
        return base + " " + " ".join(f"{k}={_render(v)}" for k, v in extras.items())


def _render(value: Any) -> str:
    text = str(value)
    return f'"{text}"' if " " in text else text


def configure_logging(level: str = "INFO") -> None:
    """Send Harvest's logs to stderr at `level`; third-party libraries only from WARNING up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("harvest").setLevel(level)
