"""`digittui classify IMAGE...`: predict digits in image files."""

from __future__ import annotations

import argparse

from digittui.cli.common import add_checkpoints, add_device, console, err_console, load_models, print_json


def add_parser(sub) -> None:
    p = sub.add_parser(
        "classify", help="predict the digit in PNG/JPG files",
        description="Predict digits in image files. Each image is made MNIST-like first: grayscale, "
                    "dark-on-light inverted, cropped, scaled into a 20x20 box and centred by mass in 28x28.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPG, ...)")
    add_checkpoints(p, ("cnn",))
    p.add_argument("--top", type=int, default=3, metavar="K", help="probabilities to show per image (default: 3)")
    add_device(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per image: file, digit, confidence, probs (10 digits)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from digittui.classify import classify
    from digittui.errors import ImageError
    from digittui.preprocess import load_digit

    _, [(cnn, _)] = load_models(args, "cnn")
    failures = 0
    for path in args.images:
        try:
            digit = load_digit(path)
        except ImageError as exc:
            failures += 1
            if args.json:
                print_json({"file": path, "error": str(exc)})
            else:
                err_console.print(f"[red]error:[/] {exc}", highlight=False)
            continue
        pred = classify(cnn.model, digit)[0]
        digits = pred.probs[:cnn.model.config.num_classes]
        if args.json:
            print_json({"file": path, "digit": pred.digit, "confidence": pred.confidence,
                        "probs": digits})
        else:
            ranked = sorted(range(len(digits)), key=digits.__getitem__, reverse=True)[:max(args.top, 1)]
            alts = "  ".join(f"{d}: {digits[d]:.1%}" for d in ranked)
            console.print(f"{path}: [bold]{pred.digit}[/] ({pred.confidence:.1%})   {alts}", highlight=False)
    return 1 if failures else 0
