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
    if args.command is None:
        from digittui.tui.app import run_app

        return run_app(cnn=args.app_cnn, vae=args.app_vae, data_dir=args.app_data_dir, device=args.app_device)
    from digittui.errors import DigitError
    from digittui.cli.common import err_console

    try:
        return int(args.run(args) or 0)
    except DigitError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return 1
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
