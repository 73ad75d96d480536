"""The CLI's output layer: the only place that writes to the terminal."""

from __future__ import annotations

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


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
    from pathlib import Path

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
    import sys

    sys.stdout.write(json.dumps(data, default=_json_default, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()
