"""`digittui serve`: the terminal UI in a web browser, through textual-serve.

Each browser tab gets its own app process (closing the tab ends it). It listens on 127.0.0.1
unless --host says otherwise: the app can train, read files and write exports as you.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from digittui.cli.common import err_console, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve", help="open the terminal UI in a web browser (textual-serve)",
        description="Serve the terminal UI over HTTP; each browser tab runs its own app. Needs the "
                    "'serve' extra: pip install 'digittui[serve]'.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 exposes "
                        "the app, which can read and write your files, to the network)")
    p.add_argument("--port", type=positive_int, default=8000, help="port (default: 8000)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        from textual_serve.server import Server
    except ImportError:
        err_console.print("[bold red]error:[/] `digittui serve` needs textual-serve: "
                          "pip install 'digittui[serve]' (or pip install textual-serve)", highlight=False)
        return 1
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"[yellow]notice:[/] listening on {args.host}: anyone who can reach it can "
                          "use this app with your files", highlight=False)
    command = f"{shlex.quote(sys.executable)} -m digittui"
    Server(command, host=args.host, port=args.port, title="digittui").serve()
    return 0
