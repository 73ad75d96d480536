"""Python functions DuckDB calls while preparing columns: Harvest's name normalisation (abbreviations
expanded, designators known) and a phonetic code. Vectorised over Arrow batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jellyfish

from harvest.entities.normalize import key_tokens, normalize, tokens


def phonetic(value: str) -> str:
    """Metaphone of each word ("Catherine Smyth" and "Kathryn Smith" sound alike)."""
    return " ".join(jellyfish.metaphone(word) for word in value.split())


def name_key(value: str) -> str:
    """The identifying words of a name in sorted order: word order and designators do not count."""
    return " ".join(sorted(key_tokens(tokens(value))))


def _batch(fn: Callable[[str], str]) -> Callable[[Any], Any]:
    import pyarrow as pa

    def run(values: Any) -> Any:
        return pa.array([None if v is None else fn(v) for v in values.to_pylist()], type=pa.string())

    return run


def register(con: Any) -> None:
    from duckdb import sqltypes

    text = sqltypes.VARCHAR
    for name, fn in (
        ("harvest_phonetic", phonetic),
        ("harvest_name", normalize),
        ("harvest_name_key", name_key),
    ):
        con.create_function(name, _batch(fn), [text], text, type="arrow")
