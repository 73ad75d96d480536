"""The SSRF policy for everything Chromium does when it renders `browser` sources.

Two layers, both applied to every request of every page:

* **Request routing**: scrapy-playwright routes each request of a page (navigations, subresources,
  fetch/XHR) through `abort_refused_request`, which resolves the host at request time and aborts the
  request when the policy refuses it. Service workers are blocked (their requests bypass routing).
* **A SOCKS5 proxy that pins connections**: Chromium is launched with this process's proxy as its only
  way out (Playwright then also stops Chromium from resolving names itself). Every connection — the
  hops of an HTTP redirect, which routing does not see, WebSockets, popups, anything else — is opened by
  the proxy to an address it checked, or refused. What Chromium is told by DNS can never differ from
  what was checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import struct
import threading
from collections import deque
from typing import Any
from urllib.parse import urlsplit

from harvest.crawl.safety import AddressPolicy, UnresolvableHostError, UnsafeURLError
from harvest.settings import Settings

logger = logging.getLogger(__name__)

SOCKS_VERSION = 5
CONNECT = 1
ATYP_IPV4, ATYP_DOMAIN, ATYP_IPV6 = 1, 3, 4
REPLY_OK, REPLY_FAILURE, REPLY_NOT_ALLOWED, REPLY_HOST_UNREACHABLE, REPLY_REFUSED = 0, 1, 2, 4, 5
REPLY_COMMAND_NOT_SUPPORTED = 7
NO_NETWORK_SCHEMES = frozenset({"data", "blob", "about"})
PIPE_CHUNK = 64 * 1024

_active: BrowserGuard | None = None


class BrowserGuard:
    """The SOCKS5 proxy on 127.0.0.1 (its own thread and event loop) plus the record of refusals."""

    def __init__(self, policy: AddressPolicy, *, connect_timeout_s: float = 30.0) -> None:
        self.policy = policy
        self.connect_timeout_s = connect_timeout_s
        self.refusals: deque[tuple[str, str]] = deque(maxlen=200)
        self.unreachable: dict[str, str] = {}  # host:port -> why the proxy could not connect
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> BrowserGuard:
        global _active
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as error:  # reported to start(), which raises it
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=serve, name="harvest-browser-guard", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        _active = self
        return self

    def stop(self) -> None:
        global _active
        if _active is self:
            _active = None
        loop, server = self._loop, self._server
        if loop is None or server is None:
            return

        async def close() -> None:
            server.close()
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def proxy_url(self) -> str:
        return f"socks5://127.0.0.1:{self.port}"

    def refuse(self, target: str, reason: str) -> None:
        self.refusals.append((target, reason))
        logger.info("browser request refused: %s: %s", target, reason, extra={"target": target})

    def explain(self, url: str) -> str:
        """Why Chromium's request for `url` (or a redirect from it) could not get through the proxy."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = f"{parts.hostname}:{port}"
        if target in self.unreachable:
            return f"cannot connect to {target}: {self.unreachable[target]}"
        if self.refusals:
            where, reason = self.refusals[-1]
            return f"refused: the browser was sent to a non-public address ({where}: {reason})"
        return "the browser could not connect (through the SSRF guard's proxy)"

    # -- SOCKS5 (RFC 1928), CONNECT only, no authentication: the proxy listens on loopback only -------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream: asyncio.StreamWriter | None = None
        try:
            version, methods = await reader.readexactly(2)
            await reader.readexactly(methods)
            if version != SOCKS_VERSION:
                return None
            writer.write(bytes([SOCKS_VERSION, 0]))
            version, command, _, address_type = await reader.readexactly(4)
            host = await self._read_host(reader, address_type)
            (port,) = struct.unpack("!H", await reader.readexactly(2))
            if command != CONNECT or host is None:
                return await self._reply(writer, REPLY_COMMAND_NOT_SUPPORTED)
            loop = asyncio.get_running_loop()
            try:
                addresses = await loop.run_in_executor(None, self.policy.check_host, host)
            except UnresolvableHostError as error:
                self.unreachable[f"{host}:{port}"] = str(error)
                return await self._reply(writer, REPLY_HOST_UNREACHABLE)
            except UnsafeURLError as error:
                self.refuse(f"{host}:{port}", str(error))
                return await self._reply(writer, REPLY_NOT_ALLOWED)
            up_reader, upstream = await self._connect(addresses, port)
            if up_reader is None or upstream is None:
                self.unreachable[f"{host}:{port}"] = "connection refused or timed out"
                return await self._reply(writer, REPLY_REFUSED)
            await self._reply(writer, REPLY_OK, close=False)
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except Exception:  # one bad client never stops the proxy
            logger.exception("browser guard: unexpected error serving a connection")
        finally:
            for stream in (writer, upstream):
                if stream is not None:
                    with contextlib.suppress(Exception):
                        stream.close()

    @staticmethod
    async def _read_host(reader: asyncio.StreamReader, address_type: int) -> str | None:
        if address_type == ATYP_IPV4:
            return str(ipaddress.IPv4Address(await reader.readexactly(4)))
        if address_type == ATYP_IPV6:
            return str(ipaddress.IPv6Address(await reader.readexactly(16)))
        if address_type == ATYP_DOMAIN:
            (length,) = await reader.readexactly(1)
            name = await reader.readexactly(length)
            try:
                return name.decode("idna")
            except UnicodeError:
                return None
        return None

    async def _connect(
        self, addresses: tuple[Any, ...], port: int
    ) -> tuple[asyncio.StreamReader | None, asyncio.StreamWriter | None]:
        for address in addresses:  # only checked addresses, in the resolver's order
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(str(address), port), timeout=self.connect_timeout_s
                )
            except (OSError, TimeoutError):
                continue
        return None, None

    @staticmethod
    async def _reply(writer: asyncio.StreamWriter, code: int, *, close: bool = True) -> None:
        writer.write(bytes([SOCKS_VERSION, code, 0, ATYP_IPV4]) + bytes(4) + b"\0\0")
        await writer.drain()
        if close:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(PIPE_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


async def abort_refused_request(request: Any) -> bool:
    """scrapy-playwright's PLAYWRIGHT_ABORT_REQUEST: True (abort) for a request the policy refuses.
    Resolves at request time, off the event loop. Without an active guard everything is refused."""
    url = str(request.url)
    if urlsplit(url).scheme.lower() in NO_NETWORK_SCHEMES:
        return False
    guard = _active
    if guard is None:
        return True
    try:
        await asyncio.get_running_loop().run_in_executor(None, guard.policy.check, url)
    except UnresolvableHostError:
        return False  # not a refusal: the proxy will fail to connect, and the page says why
    except UnsafeURLError as error:
        guard.refuse(url, str(error))
        return True
    return False


async def close_popup(popup: Any) -> None:
    """Pages opened by window.open() are not crawled: closing them at once stops whatever they load
    (and keeps them from piling up in the browser for the rest of the crawl)."""
    with contextlib.suppress(Exception):
        await popup.close()


def active_guard() -> BrowserGuard | None:
    return _active


def browser_settings(settings: Settings, guard: BrowserGuard) -> dict[str, Any]:
    """scrapy-playwright with Debian's Chromium (never a downloaded browser), every request routed
    through the policy and every connection through the guard's proxy."""
    handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
    return {
        "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": str(settings.chromium_path),
            "headless": True,
            # Playwright adds --proxy-bypass-list=<-loopback> (loopback goes through the proxy too) and,
            # for SOCKS, host-resolver rules that leave all name resolution to the proxy.
            "proxy": {"server": guard.proxy_url},
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                # WebRTC may only use the proxy (no UDP to addresses nobody checked)
                "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
            ],
        },
        "PLAYWRIGHT_CONTEXTS": {"default": {"service_workers": "block"}},
        "PLAYWRIGHT_ABORT_REQUEST": "harvest.crawl.browser_guard.abort_refused_request",
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": settings.crawl_timeout_s * 1000,
        "PLAYWRIGHT_MAX_CONTEXTS": 2,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
    }
