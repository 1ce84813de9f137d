"""textual-serve's Server, letting in only its own page.

textual-serve (1.1.3) gives a live app session, which can read and write the user's files, to any
WebSocket that connects to /ws: a page on any other site, open in the same browser, could drive it,
and binding to 127.0.0.1 does not prevent that. Here, as in Jupyter:

- the server makes a random token at start and prints its address with it (`/?token=...`); the page
  is served only to a request carrying it, and its response sets the token as a cookie
  (SameSite=Strict, HttpOnly), which the page's own WebSocket and downloads then carry;
- the WebSocket is accepted only with that cookie and an Origin header naming the page's own
  address: the --public-url when one is given, else the address the browser used (its Host header).

The page's script and WebSocket URLs are built from --public-url, or else from the request's Host
header, so the page also loads through an SSH tunnel on another port or from another machine.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from textual_serve.server import Server

PROTECTED = ("/ws", "/download/")
DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str | None:
    """'scheme://host:port' of a URL, with the scheme's default port made explicit; None if malformed."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host.lower()}:{port}"


class GuardedServer(Server):
    """A textual-serve Server that serves its page and session only to the holder of its token."""

    def __init__(self, command: str, host: str, port: int, *, title: str = "digittui",
                 public_url: str | None = None, token: str | None = None,
                 announce: Callable[[str], None] = print) -> None:
        super().__init__(command, host=host, port=port, title=title,
                         public_url=public_url.rstrip("/") if public_url else None)
        self.given_public_url = public_url.rstrip("/") if public_url else None
        self.token = token or secrets.token_urlsafe(24)
        # Cookies are shared by every port of a host: the name keeps two servers' tokens apart.
        self.cookie = "digittui-" + hashlib.sha256(self.token.encode()).hexdigest()[:12]
        self.announce = announce

    @property
    def url(self) -> str:
        """The address to open, token included."""
        if self.given_public_url:
            base = self.given_public_url
        else:
            host = f"[{self.host}]" if ":" in self.host else self.host
            base = f"http://{host}:{self.port}"
        return f"{base}/?token={self.token}"

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(self, request: web.Request,
                     handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        path = request.path
        if path == "/":
            if not secrets.compare_digest(request.query.get("token", ""), self.token):
                return _refused("this page needs the token printed where `digittui serve` started: "
                                "open the address it printed, ?token=... included")
            response = await handler(request)
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict", path="/")
            return response
        if path.startswith(PROTECTED):
            if not secrets.compare_digest(request.cookies.get(self.cookie, ""), self.token):
                return _refused("no session token: open the address `digittui serve` printed")
            if path == "/ws" and not self._same_origin(request):
                return _refused("the WebSocket was opened from another site's page")
        return await handler(request)

    def _same_origin(self, request: web.Request) -> bool:
        given = request.headers.get("Origin")
        if not given:
            return False
        own = self.given_public_url or f"{request.scheme}://{request.host}"
        return origin_of(given) is not None and origin_of(given) == origin_of(own)

    async def handle_index(self, request: web.Request) -> web.StreamResponse:
        # Without --public-url, build the page's URLs from the address the browser used: a tunnel on
        # another port, or another machine reaching --host 0.0.0.0. (textual-serve reads
        # self.public_url without awaiting anything in between, so no other request can interleave.)
        if not self.given_public_url:
            self.public_url = f"{request.scheme}://{request.host}"
        return await super().handle_index(request)

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints its logo here, before the port is bound; digittui says where it
        listens once it does (serve's `print`)."""

    def serve(self, debug: bool = False) -> None:
        """Run until Ctrl+C or SIGTERM. OSError (port taken, unknown host) propagates to the caller."""
        import asyncio
        import signal

        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, self.request_exit)
        web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                    print=lambda *args: self.announce(self.url))


def _refused(reason: str) -> web.Response:
    return web.Response(status=403, text=f"digittui serve: refused: {reason}\n")
