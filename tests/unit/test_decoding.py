"""Page bytes to text: header → BOM → <meta> → detection, never U+FFFD for text a browser would read."""

from __future__ import annotations

import pytest

from harvest.process.decoding import decode_html

HTTP_EQUIV = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
FRENCH = "Café crème, une naïve façade et un cœur à l\u2019ouvrage pour le déjeuner."


@pytest.mark.parametrize(
    ("body", "content_type", "encoding"),
    [
        (f"<p>{FRENCH}</p>".encode("cp1252"), "text/html; charset=iso-8859-1", "cp1252"),  # WHATWG label
        (f'<meta charset="windows-1252"><p>{FRENCH}</p>'.encode("cp1252"), "text/html", "cp1252"),
        (f"{HTTP_EQUIV}<p>{FRENCH}</p>".encode("cp1252"), None, "cp1252"),
        (f"<p>{FRENCH}</p>".encode("cp1252"), "text/html; charset=utf-8", "cp1252"),  # a lying header
        (f"<p>{FRENCH}</p>".encode("cp1252"), "text/html", "cp1252"),  # undeclared: detected
        (b"\xef\xbb\xbf" + f"<p>{FRENCH}</p>".encode(), "text/html; charset=iso-8859-1", "utf-8"),  # BOM
        (f"<p>{FRENCH}</p>".encode(), None, "utf-8"),
    ],
)
def test_western_text_decodes_without_replacement(
    body: bytes, content_type: str | None, encoding: str
) -> None:
    text, used, replaced = decode_html(body, content_type)
    assert FRENCH in text and "\ufffd" not in text and not replaced
    assert used == encoding


def test_japanese_and_cyrillic_pages_are_readable() -> None:
    japanese = "日本語のページです。東京の天気は晴れです。今日はとても良い日ですね。"
    meta = '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
    assert japanese in decode_html(f"{meta}<p>{japanese}</p>".encode("shift_jis"), None)[0]
    assert japanese in decode_html(f"<p>{japanese * 2}</p>".encode("shift_jis"), "text/html")[0]
    russian = "Привет, это русская страница о погоде в Москве. " * 3  # noqa: RUF001
    assert russian in decode_html(f"<p>{russian}</p>".encode("cp1251"), "text/html")[0]


def test_bytes_that_cannot_be_decoded_are_flagged() -> None:
    text, used, replaced = decode_html(b"\xef\xbb\xbf<p>broken \xff\xfe bytes</p>", "text/html")
    assert replaced and used == "utf-8" and "broken" in text and "\ufffd" in text
