"""The built web UI (frontend/, `make ui`) served at /: hashed assets cached for good, every other path
that no API route answered falls back to index.html so the single-page app's deep links work."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from harvest.api.errors import error_body

UI_DIR = Path(__file__).resolve().parent / "static"
# paths the SPA never owns: unknown ones there stay JSON 404s
_NOT_UI = ("api/", "docs", "redoc", "openapi.json", "assets/")

_NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Harvest</title></head>
<body style="font-family:sans-serif;max-width:40rem;margin:3rem auto">
<h1>Harvest</h1><p>The web UI is not built in this installation. Build it with <code>make ui</code>
(needs Node 20 and npm), then reload. The API is up: <a href="/docs">/docs</a>.</p></body></html>"""


class _ImmutableAssets(StaticFiles):
    """Vite names assets by content hash, so a browser may keep them forever."""

    async def get_response(self, path: str, scope):  # type: ignore[no-untyped-def]
        response: Response = await super().get_response(path, scope)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def mount_ui(app: FastAPI, directory: Path = UI_DIR) -> None:
    index = directory / "index.html"
    if (directory / "assets").is_dir():
        app.mount("/assets", _ImmutableAssets(directory=directory / "assets"), name="ui-assets")

    @app.get("/{path:path}", include_in_schema=False)
    def single_page_app(path: str) -> Response:
        if path.startswith(_NOT_UI):
            return error_body(404, "not_found", "Not Found")
        static = (directory / path).resolve()
        if path and static.is_file() and static.is_relative_to(directory.resolve()):
            return FileResponse(static)  # favicon and other files at the top of the build
        if not index.is_file():
            return HTMLResponse(_NOT_BUILT)
        # index.html names the current hashed assets: never serve a stale copy
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
