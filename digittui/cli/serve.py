"""`digittui serve`: the terminal UI in a web browser, through textual-serve.

Each browser tab gets its own app process (closing the tab ends it). It listens on 127.0.0.1
unless --host says otherwise: the app can train, read files and write exports as you, so only a
page opened with the server's token may connect (digittui/webserver.py).
"""

from __future__ import annotations

import argparse
import errno
import shlex
import socket
import sys

from digittui.cli.common import notice, say
from digittui.errors import DigitError

WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port: ports run from 1 to 65535")
    return value


def public_url(text: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"{text[:80]!r} is not an http:// or https:// address "
                                         "(like http://myhost:8000)")
    return text


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="open the terminal UI in a web browser (textual-serve)",
        description="Serve the terminal UI over HTTP; each browser tab runs its own app. Open the address "
                    "it prints: it carries a token without which no page can connect. Needs the "
                    "'serve' extra: pip install 'digittui[serve]'.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 exposes "
                        "the app, which can read and write your files, to the network)")
    p.add_argument("--port", type=port, default=8000, help="port (default: 8000)")
    p.add_argument("--public-url", type=public_url, metavar="URL",
                   help="the address browsers use to reach this server, when it is not --host:--port: "
                        "behind a proxy, or an SSH tunnel (http://localhost:9000) (default: the address "
                        "each browser used)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from digittui.webserver import GuardedServer
    except ImportError:
        raise DigitError("`digittui serve` needs textual-serve: pip install 'digittui[serve]' "
                         "(or pip install textual-serve)") from None
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        notice(f"listening on {args.host}: anyone who can reach it and has the token can use this app "
               "with your files")
    command = f"{shlex.quote(sys.executable)} -m digittui"
    server = GuardedServer(command, host=args.host, port=args.port, public_url=args.public_url,
                           announce=lambda url: _announce(url, args))
    try:
        server.serve()
    except OSError as exc:
        raise DigitError(f"cannot listen on {args.host}:{args.port}: {_bind_reason(exc, args)}") from None
    return 0


def _announce(url: str, args: argparse.Namespace) -> None:
    say(f"digittui is served at {url}")
    if args.host in WILDCARD_HOSTS and not args.public_url:
        say(f"(listening on every address: replace {args.host} with this machine's name or address)")
    say("Press Ctrl+C to stop.")


def _bind_reason(exc: OSError, args: argparse.Namespace) -> str:
    if isinstance(exc, socket.gaierror):
        return f"the host {args.host!r} cannot be resolved ({exc.strerror or exc})"
    if exc.errno == errno.EADDRINUSE:
        return f"port {args.port} is already in use; choose another with --port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{args.host} is not an address of this machine"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (ports below 1024 need privileges); choose another with --port"
    return exc.strerror or str(exc)
