"""`python -m harvest.api.openapi FILE [--check]`: write the API's OpenAPI schema (what the web UI's client
is generated from) without a database or a server; --check fails when FILE is not the current schema."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from harvest.api.app import create_app
from harvest.settings import load_settings


def schema() -> dict[str, Any]:
    return create_app(load_settings(_env_file=None), connect=False).openapi()


def render() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        sys.stderr.write("usage: python -m harvest.api.openapi FILE [--check]\n")
        return 2
    target, check = Path(argv[0]), "--check" in argv[1:]
    current = render()
    if check:
        if not target.is_file() or target.read_text(encoding="utf-8") != current:
            sys.stderr.write(
                f"{target} is not the API's current OpenAPI schema: run `make client` and commit the result\n"
            )
            return 1
        return 0
    target.write_text(current, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
