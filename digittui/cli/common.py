"""Pieces shared by the subcommands: consoles, option types and the common options."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys

from rich.console import Console
from rich.markup import escape

# Piped or logged output (scripts over SSH) keeps each message on one line, so that grep finds whole
# paths; rich would otherwise wrap it at 80 columns. A terminal gets rich's wrapping at its width.
console = Console(soft_wrap=not sys.stdout.isatty())
err_console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())


def notice(message: str) -> None:
    """A notice on stderr; `message` is user text (paths, specs): never read as markup."""
    err_console.print(f"[yellow]notice:[/] {escape(message)}", highlight=False)


def say(message: str, *, stderr: bool = False) -> None:
    """One plain line: what it holds (paths, specs) is printed as it is, never read as markup."""
    (err_console if stderr else console).print(message, markup=False, highlight=False)


def whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _not_huge(value: int) -> int:
    if value > 10_000_000:
        raise argparse.ArgumentTypeError(f"{value} is unreasonably large")
    return value


def positive_int(text: str) -> int:
    value = whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return _not_huge(value)


def count_or_off(text: str) -> int:
    """A whole number, 0 (off) or more."""
    value = whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} must be 0 (off) or more")
    return _not_huge(value)


def seed(text: str) -> int:
    """A random seed: a whole number every generator accepts (digittui.limits.MAX_SEED)."""
    from digittui.errors import LimitError
    from digittui.limits import check_seed

    try:
        return check_seed(int(text), "")
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
    except LimitError as exc:
        raise argparse.ArgumentTypeError(str(exc).strip()) from None


def at_most(most: float, why: str):
    """An option type: a positive finite number no larger than `most` (`why` says where that comes from)."""
    def parse(text: str) -> float:
        value = positive_float(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"{text} is more than {most:g} ({why})")
        return value
    return parse


def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number")
    return value


def positive_float(text: str) -> float:
    value = _finite_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be greater than 0")
    return value


def non_negative_float(text: str) -> float:
    value = _finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must not be negative")
    return value


def add_init(parser: argparse.ArgumentParser) -> None:
    """`--init random|picked`: where guided generation starts each latent (GenerateConfig.init)."""
    from digittui.genconfig import INIT_HELP, GenerateConfig, Init

    def init(text: str) -> Init:
        try:
            return Init.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    meanings = "; ".join(f"{i.value}: {INIT_HELP[i]}" for i in Init)
    parser.add_argument("--init", type=init, default=GenerateConfig.init, metavar="|".join(i.value for i in Init),
                        help=f"{meanings} (default: {GenerateConfig.init.value})")


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", metavar="DIR",
                        help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA, else "
                             "the per-user cache folder, e.g. ~/.cache/digittui/data on Linux, downloaded there when online)")


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", metavar="NAME",
                        help="auto, cuda, cuda:N, mps or cpu (default: auto = CUDA, then MPS, then CPU)")
    parser.add_argument("--require-device", action="store_true",
                        help="fail instead of falling back to the CPU when --device is unavailable "
                             "(default: fall back with a notice)")


def add_checkpoints(parser: argparse.ArgumentParser, kinds: tuple[str, ...] = ("cnn", "vae"),
                    generation: bool = False) -> None:
    """--cnn / --vae. `generation`: the command's CNN decides guided samples, whose shipped default is the
    shipped decider (digittui.weights.DECIDER)."""
    for kind in kinds:
        default = ("your trained one, else the shipped decider, a CNN trained on MNIST's digits alone"
                   if generation and kind == "cnn" else "your trained one, else the shipped one")
        parser.add_argument(f"--{kind}", metavar="FILE", help=f"{kind.upper()} checkpoint (default: {default})")


def load_models(args: argparse.Namespace, *roles: str):
    """Resolve --device (a fallback to the CPU is said on stderr, or refused with --require-device)
    and load each role's checkpoint ("cnn", "vae" or "decider", which --cnn also sets): --cnn / --vae,
    else the user's trained one, else the shipped one. Returns (device, [(Checkpoint, source) for each])."""
    from digittui import checkpoints, device as devices
    from digittui.weights import checkpoint_kind

    choice = devices.resolve(args.device, required=args.require_device)
    if choice.notice:
        notice(choice.notice)
    return choice.device, [checkpoints.load_default(role, getattr(args, checkpoint_kind(role)), choice.device)
                           for role in roles]


def print_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=None) + "\n")
    sys.stdout.flush()


def add_replace(p: argparse.ArgumentParser) -> None:
    p.add_argument("--replace", action="store_true",
                   help="allow writing over the weights digittui uses (shipped or chosen); default: refused")


def check_replace(args: argparse.Namespace, path: str | os.PathLike) -> None:
    """Refuse, before any work, to write over weights in use unless --replace was given."""
    if not args.replace:
        from digittui import weights

        weights.check_not_relied_on(path)
