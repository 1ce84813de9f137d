"""`digittui serve` lets in only its own page: the token in the address, the cookie it sets, and the
WebSocket's Origin are all checked, with an aiohttp client playing the browser and the hostile page."""

from __future__ import annotations

import asyncio
import re
import sys

import pytest

pytest.importorskip("textual_serve")

from aiohttp import ClientSession, CookieJar, WSServerHandshakeError  # noqa: E402
from aiohttp.test_utils import TestServer  # noqa: E402

from digittui.webserver import GuardedServer, origin_of  # noqa: E402

# The app each accepted connection starts: a process that ends at once is enough to see the handshake.
COMMAND = f"{sys.executable} -c pass"


def _serve(check, public_url=None):
    """Run `check(base_url, token)` against a live GuardedServer on a free local port."""
    server = GuardedServer(COMMAND, host="127.0.0.1", port=0, public_url=public_url, token="secret-token")

    async def main():
        test_server = TestServer(await server._make_app(), host="127.0.0.1")
        await test_server.start_server()
        try:
            return await check(str(test_server.make_url("")).rstrip("/"), server.token)
        finally:
            await test_server.close()

    return asyncio.run(main())


async def _open_ws(base, *, token=None, origin=None):
    """Load the page (with `token`, if any) like a browser, then open its WebSocket sending `origin`.
    True if the server accepted the WebSocket."""
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as session:
        if token is not None:
            async with session.get(f"{base}/?token={token}") as page:
                assert page.status == 200
        headers = {"Origin": origin} if origin else {}
        try:
            async with session.ws_connect(f"{base.replace('http', 'ws', 1)}/ws?width=80&height=24",
                                          headers=headers) as ws:
                await ws.close()
            await asyncio.sleep(1)  # the server reaps the app process (COMMAND) once the socket closes
            return True
        except WSServerHandshakeError as exc:
            assert exc.status == 403
            return False


@pytest.mark.parametrize("query, status", [("", 403), ("?token=wrong", 403), ("?token=secret-token", 200)])
def test_the_page_needs_the_token(query, status):
    async def check(base, token):
        async with ClientSession() as session, session.get(f"{base}/{query}") as response:
            body = await response.text()
            return response.status, body

    got, body = _serve(check)
    assert got == status
    if status == 200:  # the page's WebSocket goes back to the address the browser used
        assert re.search(r'data-session-websocket-url="ws://127\.0\.0\.1:\d+/ws"', body)
    else:
        assert "token" in body and "websocket" not in body.lower()


@pytest.mark.parametrize("token, origin, accepted", [
    ("secret-token", "SELF", True),  # the page itself
    ("secret-token", "http://evil.example", False),  # another site's page, in the same browser
    ("secret-token", None, False),  # no Origin at all: not a browser page
    (None, "SELF", False),  # the right Origin but never given the token (no cookie)
    ("wrong", "SELF", None),  # the page refuses a wrong token
])
def test_the_websocket_lets_in_only_the_page_itself(token, origin, accepted):
    async def check(base, _):
        if accepted is None:
            async with ClientSession() as session, session.get(f"{base}/?token={token}") as page:
                return page.status
        return await _open_ws(base, token=token, origin=base if origin == "SELF" else origin)

    result = _serve(check)
    assert result == (403 if accepted is None else accepted)


def test_behind_a_tunnel_the_public_url_is_the_page_and_the_origin():
    async def check(base, token):
        async with ClientSession() as session, session.get(f"{base}/?token={token}") as page:
            body = await page.text()
        return body, await _open_ws(base, token=token, origin="http://localhost:9000"), \
            await _open_ws(base, token=token, origin=base)

    body, tunnel, direct = _serve(check, public_url="http://localhost:9000")
    assert 'data-session-websocket-url="ws://localhost:9000/ws"' in body
    assert tunnel and not direct


def test_downloads_need_the_session_cookie():
    async def check(base, token):
        async with ClientSession() as session, session.get(f"{base}/download/anything") as response:
            return response.status

    assert _serve(check) == 403


@pytest.mark.parametrize("url, origin", [
    ("http://localhost:9000/", "http://localhost:9000"), ("https://Host.example", "https://host.example:443"),
    ("http://127.0.0.1", "http://127.0.0.1:80"), ("http://[::1]:8000", "http://[::1]:8000"),
    ("javascript:alert(1)", None), ("http://", None), ("null", None),
])
def test_origins_compare_scheme_host_and_port(url, origin):
    assert origin_of(url) == origin


def test_the_printed_address_carries_the_token():
    server = GuardedServer(COMMAND, host="127.0.0.1", port=8123)
    assert re.fullmatch(r"http://127\.0\.0\.1:8123/\?token=[\w-]{32}", server.url)
    assert GuardedServer(COMMAND, host="::1", port=8123, token="t").url == "http://[::1]:8123/?token=t"
    assert GuardedServer(COMMAND, "0.0.0.0", 1, public_url="https://x.example/", token="t").url == \
        "https://x.example/?token=t"
