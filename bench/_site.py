"""A generated site served from memory by Twisted in its own process (so the server is not the bottleneck).

Run: python bench/_site.py PAGES PAGE_KB [SEED]  → prints the port, serves until killed (another SEED:
other text).
Every page links to the next five and five random others (all pages reachable from /p/0), carries an
ETag and answers a matching If-None-Match with 304.
"""

from __future__ import annotations

import random
import sys

from twisted.internet import reactor
from twisted.web import resource, server

WORDS = [
    "data",
    "model",
    "crawl",
    "vector",
    "search",
    "index",
    "train",
    "page",
    "text",
    "link",
    "site",
    "token",
    "chunk",
    "embed",
    "query",
    "rank",
    "score",
    "entity",
    "graph",
    "batch",
    "store",
    "cache",
    "fetch",
    "parse",
    "clean",
    "label",
    "split",
    "tensor",
    "layer",
    "loss",
    "epoch",
    "metric",
]


def build(pages: int, page_kb: int, seed: int = 7) -> dict[bytes, tuple[bytes, bytes]]:
    rng = random.Random(seed)
    site: dict[bytes, tuple[bytes, bytes]] = {}
    for n in range(pages):
        targets = {(n + k) % pages for k in range(1, 6)} | {rng.randrange(pages) for _ in range(5)}
        links = "".join(f'<li><a href="/p/{t}">Page {t}</a></li>' for t in sorted(targets))
        paragraphs = []
        size = 0
        while size < page_kb * 1024:
            paragraph = " ".join(rng.choice(WORDS) for _ in range(80))
            paragraphs.append(f"<p>{paragraph}.</p>")
            size += len(paragraph) + 8
        html = (
            f"<html><head><title>Page {n}</title></head><body>"
            f"<main><h1>Page {n}</h1>{''.join(paragraphs)}</main><ul>{links}</ul></body></html>"
        ).encode()
        site[f"/p/{n}".encode()] = (html, f'"p{n}-{len(html)}"'.encode())
    return site


class Site(resource.Resource):
    isLeaf = True

    def __init__(self, pages: dict[bytes, tuple[bytes, bytes]]) -> None:
        super().__init__()
        self.pages = pages

    def render_GET(self, request: server.Request) -> bytes:
        if request.path == b"/robots.txt":
            request.setHeader(b"content-type", b"text/plain")
            return b"User-agent: *\nAllow: /\n"
        page = self.pages.get(request.path if request.path != b"/" else b"/p/0")
        if page is None:
            request.setResponseCode(404)
            return b"not found"
        body, etag = page
        request.setHeader(b"etag", etag)
        if request.getHeader(b"if-none-match") == etag:
            request.setResponseCode(304)
            return b""
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return body


def main() -> None:
    pages, page_kb = int(sys.argv[1]), int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    site = server.Site(Site(build(pages, page_kb, seed)))
    site.noisy = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
    print(port.getHost().port, flush=True)
    reactor.run()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
