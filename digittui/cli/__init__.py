"""The `digittui` command: no arguments opens the TUI; subcommands run each job headless.

Each subcommand lives in its own module exposing `add_parser(subparsers)`; the module sets
`run=` on its parser. Engine imports (torch, torchvision) happen inside `run`, so `--help` and the
TUI's first frame never wait for them.
"""

from __future__ import annotations

import argparse
import sys

from digittui import __version__
from digittui.cli import checkpoint, classify, evaluate, explore, generate, serve, train

COMMANDS = [train, evaluate, classify, generate, explore, checkpoint, serve]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digittui",
        description="Train, classify and generate MNIST digits. Without a command, opens the terminal UI.",
        epilog="Run `digittui COMMAND --help` for each command's options. "
               "Shipped weights are used until you train your own.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"digittui {__version__}")
    # For the TUI only; distinct dests, since a subcommand's own --data-dir default would overwrite these.
    app = parser.add_argument_group("terminal UI options (without a command)")
    app.add_argument("--data-dir", dest="app_data_dir", metavar="DIR",
                     help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA, else the per-user cache "
                          "folder, e.g. ~/.cache/digittui/data)")
    app.add_argument("--cnn", dest="app_cnn", metavar="FILE", help="CNN checkpoint (default: yours, else shipped)")
    app.add_argument("--vae", dest="app_vae", metavar="FILE", help="VAE checkpoint (default: yours, else shipped)")
    app.add_argument("--device", dest="app_device", default="auto", metavar="NAME",
                     help="auto, cuda, mps or cpu (default: auto)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from digittui.cli import guard

    if args.command is None:
        return guard.run(lambda: open_tui(args))
    misplaced = [option for option, value in (("--data-dir", args.app_data_dir), ("--cnn", args.app_cnn),
                                              ("--vae", args.app_vae), ("--device", args.app_device != "auto"))
                 if value]
    if misplaced:  # they would be ignored: the command reads its own options
        parser.error(f"{misplaced[0]} before the command is for the terminal UI; put it after the command: "
                     f"digittui {args.command} {misplaced[0]} ...")
    return guard.run(lambda: args.run(args))


def open_tui(args: argparse.Namespace) -> int:
    """The terminal UI, if there is a terminal to draw it on and read keys from."""
    import os

    from digittui.errors import DigitError

    served = bool(os.environ.get("TEXTUAL_DRIVER"))  # textual-serve: a browser is the terminal
    if not served and not sys.stdin.isatty():
        raise DigitError("the terminal UI needs a terminal, and stdin is not one: run `digittui` in a "
                         "terminal, a command such as `digittui generate 7` in scripts (digittui --help), "
                         "or `digittui serve` for a browser")
    if not served and os.environ.get("TERM") == "dumb":
        raise DigitError("TERM=dumb: this terminal cannot draw the UI; use a command (digittui --help), "
                         "or `digittui serve` for a browser")
    from digittui.tui.app import run_app

    return run_app(cnn=args.app_cnn, vae=args.app_vae, data_dir=args.app_data_dir, device=args.app_device)


if __name__ == "__main__":
    sys.exit(main())
