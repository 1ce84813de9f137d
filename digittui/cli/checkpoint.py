"""`digittui checkpoint info|strip`: inspect a checkpoint, or copy it without optimizer state."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from digittui.cli.common import console, print_json


def add_parser(sub) -> None:
    p = sub.add_parser("checkpoint", help="inspect a checkpoint, or strip it for sharing",
                       description="Inspect or strip checkpoint files. Loading is always safe: "
                                   "nothing in a checkpoint is executed.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
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
            console.print(f"[bold]{path}[/] ({source}): {ckpt.kind.upper()}, epoch {ckpt.epoch}, "
                          f"{summary['parameters']:,} parameters, "
                          f"{'resumable' if summary['resumable'] else 'weights only'}")
            console.print(f"  metrics {json.dumps(ckpt.metrics)}", highlight=False)
            console.print(f"  config  {json.dumps(summary['config'])}", highlight=False)
    return 0


def run_strip(args: argparse.Namespace) -> int:
    from digittui import checkpoints

    out = checkpoints.strip(Path(args.src), Path(args.dst))
    console.print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0
