"""`digittui checkpoint list|use|delete|info|strip`: the kept runs and the weights in use; inspect a
checkpoint, or copy it without optimizer state."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.markup import escape

from digittui.cli.common import console, print_json, say


def add_parser(sub) -> None:
    p = sub.add_parser("checkpoint", help="list kept runs, choose the weights in use, inspect a checkpoint",
                       description="Every training run is kept (its best and its last epoch) until you delete "
                                   "it; the weights in use change only when you choose. Loading is always "
                                   "safe: nothing in a checkpoint is executed.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the weights you can use, with their test metric; * marks those in use")
    listing.add_argument("--json", action="store_true", help="print one JSON line per checkpoint (default: a table)")
    listing.set_defaults(run=run_list)
    use = actions.add_parser("use", help="choose the weights digittui uses (TUI and CLI)")
    use.add_argument("target", metavar="shipped|RUN|FILE",
                     help="'shipped', a kept run (its id, as `checkpoint list` shows, or its folder: its best "
                          "epoch), or a checkpoint file")
    use.add_argument("--kind", choices=("cnn", "vae"),
                     help="with 'shipped': only this model (default: both); otherwise a check")
    use.add_argument("--last", action="store_true", help="a run's last epoch instead of its best")
    use.set_defaults(run=run_use)
    delete = actions.add_parser("delete", help="delete a kept run (refused while it is in use)")
    delete.add_argument("run_id", metavar="RUN", help="the run's id, as `checkpoint list` shows it")
    delete.set_defaults(run=run_delete)
    info = actions.add_parser("info", help="model kind, configuration, epoch, metrics, training options")
    info.add_argument("file", nargs="?", metavar="FILE",
                      help="checkpoint (default: the CNN and the VAE in use)")
    info.add_argument("--json", action="store_true", help="print JSON (default: a readable summary)")
    info.set_defaults(run=run_info)
    strip = actions.add_parser("strip", help="copy without optimizer state (about 3x smaller; cannot be resumed)")
    strip.add_argument("src", metavar="SRC", help="checkpoint to read")
    strip.add_argument("dst", metavar="DST", help="file to write (replaced atomically)")
    strip.set_defaults(run=run_strip)


def run_info(args: argparse.Namespace) -> int:
    from digittui import checkpoints

    paths = [(Path(args.file), "given")] if args.file else [checkpoints.find(k) for k in ("cnn", "vae")]
    for path, source in paths:
        ckpt = checkpoints.load(path)
        summary = {"file": str(path), "source": source, "kind": ckpt.kind, "epoch": ckpt.epoch,
                   "config": vars(ckpt.model.config).copy(), "metrics": ckpt.metrics, "train": ckpt.train,
                   "parameters": sum(p.numel() for p in ckpt.model.parameters()),
                   "resumable": ckpt.resume is not None}
        if args.json:
            print_json(summary)
        else:
            console.print(f"[bold]{escape(str(path))}[/] ({source}): {ckpt.kind.upper()}, epoch {ckpt.epoch}, "
                          f"{summary['parameters']:,} parameters, "
                          f"{'resumable' if summary['resumable'] else 'weights only'}")
            say(f"  metrics {json.dumps(ckpt.metrics)}")
            say(f"  config  {json.dumps(summary['config'])}")
    return 0


def run_strip(args: argparse.Namespace) -> int:
    from digittui import checkpoints

    out = checkpoints.strip(Path(args.src), Path(args.dst))
    say(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    from digittui import weights

    for kind in weights.KINDS:
        in_use = weights.resolve(kind)[0].resolve()
        rows = [weights.read(c) for c in weights.candidates(kind)]
        if not args.json:
            console.print(f"[bold]{kind.upper()}[/]")
        for c in rows:
            active = c.path.resolve() == in_use
            if args.json:
                print_json({"kind": kind, "label": c.label, "file": str(c.path), "active": active,
                            "epoch": c.epoch, "metrics": c.metrics, "error": c.error,
                            "run": c.path.parent.name if c.path.parent.parent == weights.runs_dir() else None})
            else:
                epoch = f"epoch {c.epoch}" if c.epoch is not None else ""
                console.print(f"  {'*' if active else ' '} {c.label:<24} {c.metric:<16} {epoch:<9} {c.path}",
                              highlight=False, markup=False)
    return 0


def run_use(args: argparse.Namespace) -> int:
    from digittui import checkpoints, weights

    if args.target == weights.SHIPPED:
        changes = [(kind, None) for kind in ([args.kind] if args.kind else weights.KINDS)]
    else:
        run = weights.find_run(args.target)
        path = (run.last if args.last else run.best) if run is not None else Path(args.target)
        if run is not None and not path.is_file():
            path = run.last  # a run stopped before any epoch counted as its best has only its last
        kind = checkpoints.load(path, args.kind).kind  # refuses what would not load
        changes = [(kind, path)]
    for kind, path in changes:
        before = _describe(kind)
        weights.choose(kind, path)
        console.print(f"{kind.upper()} in use: {_describe(kind)} (was {before})", highlight=False, markup=False)
    return 0 if changes else 1


def _describe(kind: str) -> str:
    """'99.60% test accuracy, shipped' for the weights in use, or why there are none."""
    from digittui import checkpoints, weights
    from digittui.errors import DigitError

    try:
        ckpt, label = checkpoints.load_default(kind)
    except DigitError as exc:
        return f"unusable: {exc}"
    return f"{weights.METRICS[kind].format(ckpt.metrics)}, {label}"


def run_delete(args: argparse.Namespace) -> int:
    from digittui import weights
    from digittui.errors import CheckpointError

    run = weights.find_run(args.run_id)
    if run is None:
        raise CheckpointError(f"no kept run {args.run_id!r}: `digittui checkpoint list` shows them")
    weights.delete_run(run)
    console.print(f"deleted {run.id}", highlight=False, markup=False)
    return 0
