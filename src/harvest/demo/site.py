"""The bundled demo site, served on 127.0.0.1: news-like articles with navigation and boilerplate around
them, two articles whose text only exists after JavaScript runs, a sitemap, robots.txt, and ETag /
Last-Modified validators so a recrawl is answered with 304s."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import threading
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harvest.demo.articles import ARTICLES, Article

SITE_NAME = "The Harvest Gazette"
PUBLISHED = datetime(2026, 9, 1, tzinfo=UTC)  # Last-Modified of every page: the site never changes

_STYLE = "body{font-family:sans-serif;max-width:46rem;margin:auto}nav a{margin-right:1rem}"
_COOKIE_BANNER = (
    '<div class="cookie-banner">We use cookies to improve your experience. '
    "<button>Accept all</button> <button>Settings</button></div>"
)


def _layout(title: str, body: str, *, head: str = "") -> str:
    sections = sorted({a.section for a in ARTICLES})
    nav = " ".join(f'<a href="/section/{s}">{s.title()}</a>' for s in sections)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} — '
        f"{SITE_NAME}</title><style>{_STYLE}</style>{head}</head><body>"
        f'<header><a href="/">{SITE_NAME}</a><nav><a href="/">Home</a> {nav} <a href="/about">About</a>'
        f"</nav></header>{_COOKIE_BANNER}<main>{body}</main>"
        f'<footer><p>© 2026 {SITE_NAME}. All rights reserved. <a href="/about">Contact</a> · '
        "Privacy policy · Terms of use</p><p>Subscribe to our newsletter for weekly updates.</p>"
        "</footer></body></html>"
    )


def article_html(article: Article) -> str:
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs)
    content = (
        f"<article><h1>{html.escape(article.title)}</h1>"
        f'<p class="byline">By {html.escape(article.author)} · {article.published}</p>'
        f"{paragraphs}</article>"
    )
    related = [a for a in ARTICLES if a.section == article.section and a.slug != article.slug][:3]
    aside = "".join(f'<li><a href="{a.path}">{html.escape(a.title)}</a></li>' for a in related)
    head = (
        f'<meta name="author" content="{html.escape(article.author)}">'
        f'<meta name="description" content="{html.escape(article.paragraphs[0][:150])}">'
        f'<meta property="article:published_time" content="{article.published}">'
    )
    if article.rendered_by_javascript:
        # The served HTML carries the article only as encoded data: a crawler sees it after rendering.
        payload = base64.b64encode(content.encode()).decode()
        content = (
            '<div id="app">Loading…</div><script>'
            f"var data = {json.dumps(payload)};"
            "var bytes = Uint8Array.from(atob(data), function (c) { return c.charCodeAt(0); });"
            "setTimeout(function () { document.getElementById('app').innerHTML = "
            "new TextDecoder().decode(bytes); }, 30);</script>"
        )
    body = f"{content}<aside><h2>Related</h2><ul>{aside}</ul></aside>"
    return _layout(article.title, body, head=head)


def home_html() -> str:
    items = "".join(
        f'<li><a href="{a.path}">{html.escape(a.title)}</a> <small>{a.published}</small></li>'
        for a in sorted(ARTICLES, key=lambda a: a.published, reverse=True)[:8]
    )
    return _layout("Home", f"<h1>Latest</h1><ul>{items}</ul>")


def section_html(section: str) -> str | None:
    articles = [a for a in ARTICLES if a.section == section]
    if not articles:
        return None
    items = "".join(f'<li><a href="{a.path}">{html.escape(a.title)}</a></li>' for a in articles)
    return _layout(section.title(), f"<h1>{section.title()}</h1><ul>{items}</ul>")


def about_html() -> str:
    return _layout(
        "About",
        "<h1>About</h1><p>The Harvest Gazette is a demonstration site bundled with Harvest. Every "
        "article is fictional.</p>",
    )


def sitemap_xml(base: str) -> str:
    urls = "".join(f"<url><loc>{base}{a.path}</loc><lastmod>{a.published}</lastmod></url>" for a in ARTICLES)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
    )


class DemoSite:
    """`DemoSite().start()` serves the site on 127.0.0.1 (port 0 = any free port) in a thread."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> DemoSite:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                site.requests += 1
                site._answer(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="demo-site")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> DemoSite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def page(self, path: str) -> tuple[str, str] | None:
        """(content type, body) of a path, or None when it does not exist."""
        path = path.split("?", 1)[0].rstrip("/") or "/"
        if path == "/":
            return "text/html; charset=utf-8", home_html()
        if path == "/about":
            return "text/html; charset=utf-8", about_html()
        if path == "/robots.txt":
            return "text/plain", f"User-agent: *\nDisallow: /admin\nSitemap: {self.base}/sitemap.xml\n"
        if path == "/sitemap.xml":
            return "application/xml", sitemap_xml(self.base)
        if path.startswith("/section/"):
            page = section_html(path.removeprefix("/section/"))
            return None if page is None else ("text/html; charset=utf-8", page)
        for article in ARTICLES:
            if path == article.path:
                return "text/html; charset=utf-8", article_html(article)
        return None

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        found = self.page(request.path)
        if found is None:
            body = _layout("Not found", "<h1>Page not found</h1>").encode()
            request.send_response(404)
            request.send_header("Content-Type", "text/html; charset=utf-8")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
            return
        content_type, text = found
        body = text.encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        if _not_modified(request, etag):
            request.send_response(304)
            request.send_header("ETag", etag)
            request.end_headers()
            return
        request.send_response(200)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.send_header("ETag", etag)
        request.send_header("Last-Modified", format_datetime(PUBLISHED, usegmt=True))
        request.end_headers()
        request.wfile.write(body)


def _not_modified(request: BaseHTTPRequestHandler, etag: str) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return etag in [tag.strip() for tag in if_none_match.split(",")]
    since = request.headers.get("If-Modified-Since")
    if since:
        try:
            return parsedate_to_datetime(since) >= PUBLISHED
        except (TypeError, ValueError):
            return False
    return False


def demo_source_spec(base: str, name: str = "demo") -> dict[str, Any]:
    """The demo site as a Harvest source (what `harvest source apply` would read from YAML)."""
    scripted = "|".join(a.slug for a in ARTICLES if a.rendered_by_javascript)
    return {
        "name": name,
        "start_urls": [f"{base}/"],
        "sitemap_urls": [f"{base}/sitemap.xml"],
        "max_depth": 3,
        "max_pages": 500,
        "render": "static",
        "render_rules": [{"pattern": f"/articles/({scripted})$", "render": "browser"}],
        "wait_for": "article",
        "labels": {"kind": "news", "site": "demo"},
    }
