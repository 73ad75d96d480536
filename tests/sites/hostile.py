"""Hostile pages for the crawler, served by LocalSite under /hostile/ and /trap/, and a canary.

The canary is a server on another loopback address (127.0.0.2) that the crawler must never reach: every
SSRF page below tries to make the crawler (or Chromium) talk to it, and the canary records every TCP
connection it accepts, not only complete requests.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import socketserver
import threading
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from tests.sites.testsite import LocalSite

Page = tuple[int, str | None, bytes, dict[str, str]]
CANARY_MARKER = b"CANARY-SECRET-7f3a"
CALENDAR_START_YEAR = datetime.now(UTC).year + 1  # 12 months, then the calendar limit (1 year ahead)


class Canary:
    """Accepts connections on 127.0.0.2 and remembers each one (and its first line, if any)."""

    def __init__(self, host: str = "127.0.0.2") -> None:
        self.host = host
        self.connections: list[str] = []
        self._lock = threading.Lock()
        self.server: socketserver.ThreadingTCPServer | None = None

    @property
    def base(self) -> str:
        assert self.server is not None
        return f"http://{self.host}:{self.server.server_address[1]}"

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def start(self) -> Canary:
        canary = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                conn: socket.socket = self.request
                conn.settimeout(2)
                try:
                    first = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                except OSError:
                    first = ""
                with canary._lock:
                    canary.connections.append(first or "(connection without a request)")
                body = b"<html><body>" + CANARY_MARKER + b"</body></html>"
                head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n"
                with contextlib.suppress(OSError):
                    conn.sendall(head.encode() + body)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def html(body: str, head: str = "", charset: str = "utf-8") -> bytes:
    return f"<html><head>{head}</head><body>{body}</body></html>".encode(charset)


# windows-1252 has the oe ligature and the typographic apostrophe (U+2019); Latin-1 has neither
FRENCH = "Café crème et croissants : une naïve façade, un cœur à l\u2019ouvrage pour le déjeuner."
LATIN1_FRENCH = FRENCH.replace("œ", "oe").replace("\u2019", "'")
JAPANESE = "日本語のページです。東京の天気は晴れです。今日はとても良い日ですね。"


@lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """64 MiB of zeros, about 64 KiB on the wire."""
    return gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)


def hostile_page(site: LocalSite, target: str) -> Page | None:
    parts = urlsplit(target)
    path, query = parts.path, parse_qs(parts.query)
    canary = site.canary
    text = "text/html"
    if path == "/hostile/redirect":
        return 302, text, b"", {"Location": f"{canary}/from-302"}
    if path == "/hostile/redirect-chain":
        return 301, text, b"", {"Location": "/hostile/redirect"}
    if path == "/hostile/redirect-decimal":  # 127.0.0.2 written as one number
        port = urlsplit(canary).port
        return 302, text, b"", {"Location": f"http://2130706434:{port}/from-decimal"}
    if path == "/hostile/redirect-mapped":
        port = urlsplit(canary).port
        return 302, text, b"", {"Location": f"http://[::ffff:127.0.0.2]:{port}/from-mapped"}
    if path == "/hostile/redirect-file":
        return 302, text, b"", {"Location": "file:///etc/passwd"}
    if path == "/hostile/js-redirect":
        return 200, text, html(f"<p>leaving</p><script>location.href = '{canary}/from-js';</script>"), {}
    if path == "/hostile/meta-refresh":
        head = f'<meta http-equiv="refresh" content="0; url={canary}/from-meta">'
        return 200, text, html("<p>leaving by meta refresh</p>", head), {}
    if path == "/hostile/form-post":
        body = (
            f'<form id="f" method="post" action="{canary}/from-form"><input name="a" value="1"></form>'
            "<script>document.getElementById('f').submit();</script>"
        )
        return 200, text, html(body), {}
    if path == "/hostile/subresources":
        return 200, text, subresources_page(canary), {}
    if path == "/hostile/sw.js":
        script = f"self.addEventListener('install', () => fetch('{canary}/from-service-worker'));"
        return 200, "application/javascript", script.encode(), {}
    if path == "/hostile/gzip-bomb":
        return 200, text, gzip_bomb(), {"Content-Encoding": "gzip"}
    if path == "/hostile/deep-nesting":
        depth = 20_000
        body = "<div>" * depth + "<p>Deep inside twenty thousand nested elements.</p>" + "</div>" * depth
        return 200, text, html(body), {}
    if path == "/hostile/cp1252-meta":
        return 200, text, html(f"<p>{FRENCH}</p>", '<meta charset="windows-1252">', "cp1252"), {}
    if path == "/hostile/cp1252-wrong-header":  # the server claims UTF-8 and sends Windows-1252
        return 200, "text/html; charset=utf-8", html(f"<p>{FRENCH}</p>", charset="cp1252"), {}
    if path == "/hostile/latin1-undeclared":
        return 200, text, html(f"<p>{LATIN1_FRENCH} {LATIN1_FRENCH}</p>", charset="latin-1"), {}
    if path == "/hostile/shift-jis":
        head = '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
        return 200, text, html(f"<p>{JAPANESE}</p>", head, "shift_jis"), {}
    if path == "/hostile/utf8-bom":  # the BOM wins over a wrong header
        return 200, "text/html; charset=iso-8859-1", b"\xef\xbb\xbf" + html(f"<p>{FRENCH}</p>"), {}
    if path.startswith("/trap/"):
        return trap_page(path, query)
    return None


def subresources_page(canary: str) -> bytes:
    """Every way a page can make a browser fetch something: none of it may reach the canary."""
    ws = canary.replace("http://", "ws://")
    head = (
        f'<link rel="stylesheet" href="{canary}/from-css">'
        f'<link rel="preconnect" href="{canary}">'
        f'<link rel="prefetch" href="{canary}/from-prefetch">'
        f'<link rel="dns-prefetch" href="{canary}">'
        f'<link rel="icon" href="{canary}/from-icon">'
        f"<style>body {{ background: url('{canary}/from-css-background'); }}</style>"
    )
    body = f"""<h1>SUBRESOURCES PAGE</h1><p>Every kind of request to the canary.</p>
<img src="{canary}/from-img"><iframe src="{canary}/from-iframe"></iframe>
<script src="{canary}/from-script"></script><video src="{canary}/from-video"></video>
<object data="{canary}/from-object"></object><embed src="{canary}/from-embed">
<script>
fetch('{canary}/from-fetch').catch(() => {{}});
var x = new XMLHttpRequest(); x.open('GET', '{canary}/from-xhr'); x.send();
try {{ new WebSocket('{ws}/from-websocket'); }} catch (e) {{}}
try {{ new EventSource('{canary}/from-eventsource'); }} catch (e) {{}}
try {{ navigator.sendBeacon('{canary}/from-beacon', 'x'); }} catch (e) {{}}
try {{ window.open('{canary}/from-popup'); }} catch (e) {{}}
try {{ new Worker(URL.createObjectURL(new Blob(["fetch('{canary}/from-worker')"]))); }} catch (e) {{}}
if (navigator.serviceWorker) {{ navigator.serviceWorker.register('/hostile/sw.js').catch(() => {{}}); }}
</script>"""
    return html(body, head)


def trap_page(path: str, query: dict[str, list[str]]) -> Page:
    """Endless URL spaces: a calendar, a deep chain, a path that repeats, an exploding query string."""
    text = "text/html"
    if path == "/trap/":
        links = [
            f"/trap/calendar?month={CALENDAR_START_YEAR}-01",
            "/trap/deep/1",
            "/trap/loop/",
            "/trap/facets?p=0",
            "/trap/long?" + "x" * 3000,
        ]
        return 200, text, html("".join(f'<a href="{link}">{n}</a> ' for n, link in enumerate(links))), {}
    if path == "/trap/calendar":
        year, month = (int(v) for v in query.get("month", ["2000-01"])[0].split("-"))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        body = f'<p>Events this month</p><a href="/trap/calendar?month={year}-{month:02d}">next month</a>'
        return 200, text, html(body), {}
    if path.startswith("/trap/deep/"):
        n = int(path.rsplit("/", 1)[1] or 0)
        return 200, text, html(f'<p>Level {n}</p><a href="/trap/deep/{n + 1}">deeper</a>'), {}
    if path.startswith("/trap/loop/"):
        return 200, text, html('<p>A relative link that repeats the path</p><a href="a/b/">again</a>'), {}
    if path == "/trap/facets":
        n = int(query.get("p", ["0"])[0])
        links = "".join(f'<a href="/trap/facets?p={n * 10 + k}">facet {k}</a> ' for k in range(1, 11))
        return 200, text, html(f"<p>Facet {n}</p>{links}"), {}
    return 404, text, html("<p>not found</p>"), {}
