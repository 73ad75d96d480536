"""Which PostgreSQL text-search configuration (stemmer + stop words) suits a document's language."""

from __future__ import annotations

# ISO 639-1 code → a configuration shipped with PostgreSQL 18. Languages without one use `simple`
# (lower-casing only), which still matches exact words.
CONFIG_BY_LANGUAGE = {
    "ar": "arabic",
    "ca": "catalan",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "es": "spanish",
    "eu": "basque",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "nl": "dutch",
    "no": "norwegian",
    "nb": "norwegian",
    "nn": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
FALLBACK_CONFIG = "simple"


def text_config(language: str | None) -> str:
    """The configuration for a language tag such as `en`, `en-US` or `pt_BR`."""
    if not language:
        return FALLBACK_CONFIG
    return CONFIG_BY_LANGUAGE.get(language.strip().lower()[:2], FALLBACK_CONFIG)


def language_case_sql(column: str) -> str:
    """A SQL CASE expression mapping a language column to its configuration (for migrations/backfills)."""
    whens = " ".join(f"WHEN '{code}' THEN '{config}'" for code, config in CONFIG_BY_LANGUAGE.items())
    return f"(CASE lower(left({column}, 2)) {whens} ELSE '{FALLBACK_CONFIG}' END)::regconfig"
