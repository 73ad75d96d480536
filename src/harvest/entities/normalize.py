"""Names compared the way people mean them: case, accents, punctuation, common abbreviations and
company designators do not make two names different."""

from __future__ import annotations

import re
import unicodedata

ABBREVIATIONS = {
    "corp": "corporation",
    "inc": "incorporated",
    "co": "company",
    "ltd": "limited",
    "llc": "limited",
    "intl": "international",
    "int'l": "international",
    "univ": "university",
    "dept": "department",
    "mfg": "manufacturing",
    "bros": "brothers",
    "assn": "association",
    "natl": "national",
    "st": "saint",
    "mt": "mount",
    "&": "and",
}
# Words that say what kind of organisation a name is, not which one: they never identify an entity alone.
DESIGNATORS = frozenset(
    {"corporation", "incorporated", "company", "limited", "group", "gmbh", "ag", "sa", "plc", "holdings"}
)
STOPWORDS = frozenset(
    {"the", "of", "and", "a", "an", "de", "la", "le", "der", "die", "das", "von", "for", "in"}
)
_TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)?|&", re.UNICODE)


def fold(text: str) -> str:
    """Lower case without accents: "Zürich" → "zurich"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _word(token: str) -> str:
    if token.endswith(("'s", "\u2019s")):  # possessive: "Initech's lab" mentions Initech
        token = token[:-2]
    return ABBREVIATIONS.get(token, token)


def tokens(text: str) -> list[str]:
    """Normalised tokens of a name: folded, punctuation dropped, abbreviations expanded."""
    return [_word(m.group(0)) for m in _TOKEN.finditer(fold(text))]


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """(normalised token, start, end) over the original text, for finding mentions with offsets."""
    folded = fold(text)
    if len(folded) != len(text):  # folding changed lengths (rare ligatures): offsets from the original
        return [(_word(fold(m.group(0))), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    return [(_word(m.group(0)), m.start(), m.end()) for m in _TOKEN.finditer(folded)]


def normalize(text: str) -> str:
    return " ".join(tokens(text))


def key_tokens(normalized_tokens: list[str]) -> list[str]:
    """The tokens that identify: no designators or stop words (all of them if nothing else is left)."""
    keys = [t for t in normalized_tokens if t not in DESIGNATORS and t not in STOPWORDS]
    return keys or list(normalized_tokens)


def deletion_variants(token: str) -> set[str]:
    """The token and every form with one character deleted (for tokens of 5+ characters): two tokens one
    typo apart (insertion, deletion, substitution, most transpositions) share a variant."""
    if len(token) < 5:
        return {token}
    return {token} | {token[:i] + token[i + 1 :] for i in range(len(token))}
