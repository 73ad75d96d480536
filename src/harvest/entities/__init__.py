"""Entities: a catalog of known things, fuzzy mentions of them in chunks, resolution of records that
denote the same thing, and the relations between them."""
