"""A small web site served on 127.0.0.1 for crawl tests: every behaviour a crawler must cope with.

Pages are held in memory and can be edited by tests (`site.pages[path] = html`); ETag and
Last-Modified follow the content, and conditional requests get 304 when it did not change.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

NAV = """<nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/contact">Contact</a></nav>"""
FOOTER = "<footer>Copyright 2026 Example Corp. All rights reserved. Privacy policy. Cookie settings.</footer>"


def article(n: int, paragraph: str | None = None) -> str:
    body = paragraph or f"Article {n} explains topic number {n} in plain words for the test suite."
    links = "".join(f'<li><a href="/articles/{m}">Article {m}</a></li>' for m in range(1, 6) if m != n)
    return (
        f"<html><head><title>Article {n}</title><meta name='author' content='Ada Writer'></head><body>"
        f"{NAV}<main><h1>Article {n}</h1><p>{body}</p><p>Second paragraph of article {n}, "
        f"with more words so extraction has something to keep.</p></main><ul>{links}</ul>{FOOTER}"
        "</body></html>"
    )


JS_PAGE = """<html><head><title>Dynamic</title></head><body><div id="app">loading…</div>
<script>
setTimeout(function () {
  // built at run time, so the served HTML never contains the marker itself
  var marker = ['JS', 'INSERTED', 'TEXT'].join('-');
  document.getElementById('app').innerHTML = '<p id="rendered">' + marker + ' appears after rendering</p>';
}, 50);
</script></body></html>"""

LATIN1_HTML = (
    "<html><body><p>Caf\u00e9 cr\u00e8me et croissants : une na\u00efve fa\u00e7ade "
    "pour le petit d\u00e9jeuner.</p>"
    "<a href='/articles/2'>a2</a></body></html>"
)
INDEX_LINKS = [
    "/articles/1",
    "/js",
    "/redirect-to-article",
    "/loop/a",
    "/private/secret",
    "/error500",
    "/slow",
    "/huge",
    "/latin1",
    "/malformed",
    "/gone",
    "/report.pdf",
    "/about",
]


def default_pages() -> dict[str, tuple[str, bytes]]:
    pages: dict[str, tuple[str, bytes]] = {}
    html = "text/html; charset=utf-8"
    links = "".join(f'<a href="{path}">{path}</a> ' for path in INDEX_LINKS)
    pages["/"] = (
        html,
        f"<html><head><title>Home</title></head><body>{NAV}<h1>Home</h1>{links}{FOOTER}</body></html>".encode(),
    )
    for n in range(1, 6):
        pages[f"/articles/{n}"] = (html, article(n).encode())
    pages["/about"] = (
        html,
        f"<html><body>{NAV}<h1>About</h1><p>We are a test site.</p></body></html>".encode(),
    )
    pages["/js"] = (html, JS_PAGE.encode())
    pages["/private/secret"] = (html, b"<html><body>secret</body></html>")
    pages["/latin1"] = (
        "text/html; charset=iso-8859-1",
        LATIN1_HTML.encode("latin-1"),
    )
    pages["/malformed"] = (
        html,
        b"<html><body><div><p>Unclosed <b>tags <a href='/articles/3'>three<td></table>\xff\xfe</body",
    )
    pages["/report.pdf"] = (
        "application/pdf",
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
    )
    return pages


class LocalSite:
    """The site; `start()` serves it on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self.pages = default_pages()
        self.modified: dict[str, float] = dict.fromkeys(self.pages, time.time() - 3600)
        self.requests: Counter[str] = Counter()
        self.not_modified: Counter[str] = Counter()
        self.slow_seconds = 5.0
        self.huge_bytes = 3 * 1024 * 1024
        self.gone_status = 410
        self.delay_s = 0.0  # added to every response (to make crawls slow enough to interrupt)
        self.canary = ""  # base URL of a server the crawler must never reach (tests/sites/hostile.py)
        self.server: ThreadingHTTPServer | None = None
        self.sitemap_lastmod: dict[str, str] = {}  # path -> <lastmod> of its sitemap entry
        self.extra_headers: dict[str, dict[str, str]] = {}  # path -> headers (e.g. Cache-Control)

    def set_page(self, path: str, html: str) -> None:
        self.pages[path] = ("text/html; charset=utf-8", html.encode())
        self.modified[path] = time.time()

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> LocalSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                site.requests[self.path] += 1
                if site.delay_s:
                    time.sleep(site.delay_s)
                site.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    # -- routes -------------------------------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        if path == "/robots.txt":
            return self.send(request, 200, "text/plain", b"User-agent: *\nDisallow: /private/\n")
        if path == "/sitemap.xml":
            urls = "".join(
                f"<url><loc>{self.base}/articles/{n}</loc>"
                + (f"<lastmod>{m}</lastmod>" if (m := self.sitemap_lastmod.get(f"/articles/{n}")) else "")
                + "</url>"
                for n in range(1, 6)
            )
            xml = f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
            return self.send(request, 200, "application/xml", xml.encode())
        if path == "/redirect-to-article":
            return self.redirect(request, "/articles/1")
        if path.startswith("/loop/"):
            return self.redirect(request, "/loop/b" if path == "/loop/a" else "/loop/a")
        if path == "/error500":
            return self.send(request, 500, "text/html", b"<html><body>Internal error</body></html>")
        if path == "/slow":
            time.sleep(self.slow_seconds)
            return self.send(request, 200, "text/html", b"<html><body>slow</body></html>")
        if path == "/huge":
            return self.send(
                request, 200, "text/html", b"<html><body>" + b"x" * self.huge_bytes + b"</body></html>"
            )
        if path == "/gone":
            return self.send(request, self.gone_status, "text/html", b"<html><body>gone</body></html>")
        if path.startswith("/gen/"):
            return self.generated(request, path)
        if path.startswith(("/hostile/", "/trap/")):
            from tests.sites.hostile import hostile_page

            page = hostile_page(self, request.path)
            if page is not None:
                status, content_type, body, headers = page
                return self.send(request, status, content_type, body, headers)
        if path not in self.pages:
            return self.send(request, 404, "text/html", b"<html><body>not found</body></html>")
        content_type, body = self.pages[path]
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        last_modified = formatdate(self.modified.get(path, 0), usegmt=True)
        headers = {"ETag": etag, "Last-Modified": last_modified} | self.extra_headers.get(path, {})
        if request.headers.get("If-None-Match") == etag:
            self.not_modified[path] += 1
            return self.send(request, 304, None, b"", headers)
        return self.send(request, 200, content_type, body, headers)

    def generated(self, request: BaseHTTPRequestHandler, path: str) -> None:
        """/gen/N: a chain of pages, each linking to the next ten (for longer crawls)."""
        n = int(path.rsplit("/", 1)[1] or 0)
        links = "".join(f'<a href="/gen/{m}">page {m}</a> ' for m in range(n + 1, n + 11))
        body = (
            f"<html><head><title>Page {n}</title></head><body><p>Generated page {n}.</p>{links}</body></html>"
        )
        etag = f'"gen-{n}"'
        if request.headers.get("If-None-Match") == etag:
            self.not_modified[path] += 1
            return self.send(request, 304, None, b"", {"ETag": etag})
        return self.send(request, 200, "text/html; charset=utf-8", body.encode(), {"ETag": etag})

    def redirect(self, request: BaseHTTPRequestHandler, location: str) -> None:
        self.send(request, 301, "text/html", b"", {"Location": location})

    @staticmethod
    def send(
        request: BaseHTTPRequestHandler,
        status: int,
        content_type: str | None,
        body: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        request.send_response(status)
        if content_type:
            request.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        try:
            request.end_headers()
            request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler gave up on a huge or slow response, as it should
