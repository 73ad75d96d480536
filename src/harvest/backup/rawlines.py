"""The raw store as JSON lines — one page version per line, the body as text when it is UTF-8 (else
base64) — backend-neutral, so a backup of PostgreSQL's raw_pages restores into MongoDB and back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator

from harvest.errors import StoreCorruptionError
from harvest.storage import RawPageVersion, RawStore

BATCH = 500


def export_lines(raw: RawStore, write: Callable[[bytes], object]) -> int:
    """Every version, in seq order, into `write`; returns how many."""
    count = 0
    batch: list[bytes] = []
    for page in raw.changed_since(0):
        batch.append(
            json.dumps(page.to_json(text_body=True), ensure_ascii=False, separators=(",", ":")).encode()
        )
        count += 1
        if len(batch) >= BATCH:
            write(b"\n".join(batch) + b"\n")
            batch.clear()
    if batch:
        write(b"\n".join(batch) + b"\n")
    return count


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line)
    if pending:
        yield pending


def parse_lines(chunks: Iterable[bytes], part: str) -> Iterator[RawPageVersion]:
    """Versions back from the lines; a line that is not a version, or whose body does not hash to its
    content_hash, is corruption."""
    for number, line in enumerate(_lines(chunks), start=1):
        try:
            yield RawPageVersion.from_json(json.loads(line))
        except ValueError as error:
            raise StoreCorruptionError(f"backup part {part}, line {number}: {error}") from error


def import_lines(
    raw: RawStore, pages: Iterable[RawPageVersion], on_batch: Callable[[int], object] | None = None
) -> int:
    count = 0
    batch: list[RawPageVersion] = []
    for page in pages:
        batch.append(page)
        if len(batch) >= BATCH:
            count += raw.restore_versions(batch)
            batch.clear()
            if on_batch is not None:
                on_batch(count)
    if batch:
        count += raw.restore_versions(batch)
    return count
