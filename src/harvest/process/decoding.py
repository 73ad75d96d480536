"""Bytes of a page → text, with the encoding sniffing browsers use.

Order: a byte-order mark; the charset of the Content-Type header; the page's own `<meta charset>` /
`http-equiv` (or XML) declaration; UTF-8; then detection. A declaration that does not decode the bytes
(a server that says UTF-8 and sends Latin-1, a common mistake) is passed over for the next step rather
than turning every accented letter into U+FFFD. Labels follow the WHATWG Encoding Standard (latin-1 and
ascii mean windows-1252, shift_jis means cp932) through w3lib, which Scrapy also uses.
"""

from __future__ import annotations

from w3lib.encoding import (
    html_body_declared_encoding,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

WESTERN_DEFAULT = "cp1252"  # what browsers assume for an undeclared page in Western locales


def decode_html(body: bytes, content_type: str | None) -> tuple[str, str, bool]:
    """(text, encoding used, whether undecodable bytes were replaced by U+FFFD)."""
    bom_encoding, bom = read_bom(body)
    if bom_encoding is not None and bom is not None:
        return _lenient(body[len(bom) :], bom_encoding)
    declared = [http_content_type_encoding(content_type), html_body_declared_encoding(body)]
    for encoding in (*declared, "utf-8"):
        if encoding is None:
            continue
        try:
            return body.decode(encoding), encoding, False
        except (UnicodeDecodeError, LookupError):
            continue
    detected = detect_encoding(body)
    if detected is not None:
        return _lenient(body, detected)
    return _lenient(body, next((e for e in declared if e), "utf-8"))


def detect_encoding(body: bytes) -> str | None:
    """The likeliest encoding of bytes that are not UTF-8: charset_normalizer's best guess, unless
    windows-1252 reads the bytes at least as cleanly (the detector confuses the Latin code pages, and
    would turn a French 'è' into a Czech 'č')."""
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    best = from_bytes(body).best()
    guess = resolve_encoding(best.encoding) if best is not None else None
    try:
        western = body.decode(WESTERN_DEFAULT)
    except UnicodeDecodeError:
        return guess
    if guess is None or mess_ratio(western, 1.0) <= mess_ratio(str(best), 1.0):
        return WESTERN_DEFAULT
    return guess


def _lenient(body: bytes, encoding: str) -> tuple[str, str, bool]:
    try:
        return body.decode(encoding), encoding, False
    except UnicodeDecodeError:
        return body.decode(encoding, errors="replace"), encoding, True
    except LookupError:  # a BOM or label Python has no codec for
        return body.decode("utf-8", errors="replace"), "utf-8", True
