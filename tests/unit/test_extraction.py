"""Text quality of extraction on documentation-style pages, and where publication dates come from."""

from __future__ import annotations

from datetime import UTC, date, datetime

from harvest.process.dates import publication_date
from harvest.process.extract import Extraction, extract_page

DOC_PAGE = """<!DOCTYPE html><html lang="en"><head><title>csv — CSV File Reading | Docs 3.2.25 | Site</title>
</head><body>
<div id="hd"><h1><a href="/">Docs 3.2.25 documentation</a></h1></div>
<div class="sphinxsidebar"><h3>Navigation</h3>
<ul><li><a href="/a">Other page with a long title</a></li></ul></div>
<div class="document"><div class="body" role="main">
<div class="section" id="csv"><span id="s-csv"></span>
<h1>csv — CSV File Reading<a class="headerlink" href="#csv" title="Permalink">¶</a></h1>
<p>The <code>csv</code> module implements classes to read and write tabular data in CSV format, as
written by spreadsheets. Use <code>QUOTE_MINIMAL</code> or pass <code>**fmtparams</code>.</p>
<div class="section" id="writing"><h2>Writing files<a class="headerlink" href="#writing">¶</a></h2>
<p>An example of writing rows to a file with the writer object:</p>
<div class="highlight"><pre><span>import</span> csv
<span>with</span> open('eggs.csv', 'w') as f:

    writer = csv.writer(f)
    writer.writerow(['Spam'] * 5)
&gt;&gt;&gt; print('done')</pre></div>
<dl class="py data"><dt id="csv.QUOTE_ALL">csv.QUOTE_ALL<a class="headerlink" href="#q">¶</a></dt>
<dd><p>Quote all fields.</p></dd>
<dt id="csv.QUOTE_NONE">csv.QUOTE_NONE</dt><dd><p>Never quote fields.</p></dd></dl>
<p>See the footnote<a href="#f1">[1]</a>.</p>
<dl class="footnote"><dt>[1]</dt><dd><p>Spreadsheets differ in their dialects.</p></dd></dl>
</div></div></div></div>
<div class="footer">© Copyright 2005-2025. Last updated on Feb 03, 2025.</div>
</body></html>"""


def extracted(html: str, url: str = "https://docs.example.org/library/csv.html") -> Extraction:
    result = extract_page(html.encode(), url=url, content_type="text/html; charset=utf-8")
    assert isinstance(result, Extraction), result
    return result


def test_documentation_pages_keep_headings_code_and_definitions_without_furniture() -> None:
    page = extracted(DOC_PAGE)
    assert page.title == "csv — CSV File Reading"
    assert page.meta["extractor"] == "structure"
    text = page.text
    assert text.startswith("# csv — CSV File Reading\n\n")
    assert "## Writing files\n\n" in text
    assert "¶" not in text and "Navigation" not in text and "Copyright" not in text
    assert "Docs 3.2.25 documentation" not in text  # the site header is not the page
    assert "QUOTE_MINIMAL" in text and "**fmtparams" in text and "\\" not in text  # nothing escaped
    # code keeps its lines (no blank line inside, so the block is never split apart)
    assert "```\nimport csv\nwith open('eggs.csv', 'w') as f:\n    writer = csv.writer(f)\n" in text
    assert ">>> print('done')\n```" in text
    # short definition-list entries and footnotes are kept, each term above its definition
    assert "csv.QUOTE_ALL\nQuote all fields." in text
    assert "csv.QUOTE_NONE\nNever quote fields." in text
    assert "[1]\nSpreadsheets differ in their dialects." in text


def test_dates_in_the_text_are_never_a_publication_date() -> None:
    page = extracted(DOC_PAGE)  # "3.2.25", "2005-2025", "Feb 03, 2025" are all in the page
    assert page.published_at is None and "date_source" not in page.meta
    article = DOC_PAGE.replace(
        "<head>", '<head><meta property="article:published_time" content="2024-05-17T10:00:00Z">'
    )
    dated = extracted(article)
    assert dated.published_at == datetime(2024, 5, 17, 10, tzinfo=UTC)
    assert dated.meta["date_source"] == "metadata:article:published_time"


def test_publication_dates_come_from_metadata_structured_data_or_the_url() -> None:
    from lxml import html

    json_ld = html.fromstring(
        '<html><head><script type="application/ld+json">{"@graph": [{"@type": "Article", '
        '"datePublished": "2023-01-02"}]}</script></head><body><p>On 1999-12-31 it rained.</p></body></html>'
    )
    found = publication_date(json_ld, "https://e.org/post")
    assert found is not None and (found.value.date(), found.source) == (date(2023, 1, 2), "json-ld")
    plain = html.fromstring("<html><body><p>Written 2011-03-04, updated 2012.</p></body></html>")
    assert publication_date(plain, "https://e.org/post") is None
    from_url = publication_date(plain, "https://e.org/blog/2021/07/09/launch")
    assert from_url is not None and (from_url.value.date(), from_url.source) == (date(2021, 7, 9), "url")
    future = html.fromstring('<html><head><meta name="date" content="2999-01-01"></head></html>')
    assert publication_date(future, "https://e.org/", today=date(2026, 1, 1)) is None


def test_index_pages_are_skipped_as_link_lists() -> None:
    links = "".join(f'<li><a href="/p{n}.html">Entry number {n} of the index</a></li>' for n in range(80))
    index = f"<html><body><div role='main'><h1>Index</h1><ul>{links}</ul></div></body></html>"
    result = extract_page(index.encode(), url="https://e.org/genindex.html", content_type="text/html")
    assert not isinstance(result, Extraction)
