"""The CLI's output layer: the only place that writes to the terminal, and the shared option shapes
(--json, input and output files, confirmations)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

console = Console()
err_console = Console(stderr=True)

MAX_ID = 2**63 - 1  # ids are PostgreSQL bigints
JSON_OPTION = typer.Option(False, "--json", help="Print JSON (for scripts) instead of a table.")


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def error_line(message: str) -> None:
    """One readable line on stderr (no markup interpretation of user data)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def warning_line(message: str) -> None:
    """One warning on stderr: the command went on, but the user should know."""
    err_console.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _json_default(value: object) -> object:
    from dataclasses import asdict, is_dataclass
    from datetime import date, datetime

    if isinstance(value, datetime | date):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    if isinstance(value, Path | set | frozenset | tuple):
        return str(value) if isinstance(value, Path) else list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def print_json(data: object) -> None:
    """Machine-readable output for `--json`: plain JSON on stdout, never wrapped or styled by rich, so
    `harvest … --json | jq` works at any terminal width."""
    import json

    sys.stdout.write(json.dumps(data, default=_json_default, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def confirm(question: str) -> None:
    """Ask; "no" aborts (exit 1, "aborted"). Without a terminal to ask on, refuse rather than guess."""
    from harvest.errors import InvalidInputError

    if not sys.stdin.isatty():
        raise InvalidInputError(f"{question} needs a yes, and there is no terminal to ask on: pass --yes")
    typer.confirm(question, abort=True)


def check_output_file(path: Path | None) -> Path | None:
    """An --out / output path: its folder must exist and it must not be a folder (a usage error)."""
    if path is None:
        return None
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise typer.BadParameter(f"the folder {path.parent} does not exist")
    return path


def input_file(help_text: str) -> Any:
    """A required file argument that must exist and be a readable file (else a usage error, exit 2)."""
    return typer.Argument(..., help=help_text, exists=True, dir_okay=False, readable=True)


class LiveView:
    """A view that redraws in place on a terminal (rich Live). Elsewhere (a pipe, a log file, CI) it never
    redraws: `note` lines are printed as they come and the final view once, on its own lines, so log
    lines written meanwhile never glue onto a table border."""

    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable
        self._live: Any = None

    def __enter__(self) -> LiveView:
        if console.is_terminal:
            from rich.live import Live

            self._live = Live(self.renderable, console=console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def update(self, renderable: Any) -> None:
        self.renderable = renderable
        if self._live is not None:
            self._live.update(renderable)

    def note(self, line: str) -> None:
        """A progress line for non-terminals (a terminal sees the view itself change)."""
        if self._live is None:
            console.print(line, highlight=False, soft_wrap=True)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
        else:
            console.print(self.renderable)
