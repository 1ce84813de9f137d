"""`digittui classify IMAGE...`: read the digits (or the number) in image files."""

from __future__ import annotations

import argparse

from rich.markup import escape

from digittui.cli.common import add_checkpoints, add_device, console, err_console, load_models, print_json


def add_parser(sub) -> None:
    p = sub.add_parser(
        "classify", help="read the digit or number in PNG/JPG files",
        description="Read the digits in image files, left to right. Each image is cleaned (uneven "
                    "lighting subtracted, dark-on-light inverted); each separate mark becomes a digit "
                    "candidate (broken strokes joined, touching digits split), made MNIST-like (fitted "
                    "to 20x20, centred by mass in 28x28) and classified. A calibrated confidence under "
                    "90% says 'not sure' with the top two; under the checkpoint's fitted threshold, "
                    "'not a digit'.")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPG, ...)")
    add_checkpoints(p, ("cnn",))
    p.add_argument("--top", type=int, default=3, metavar="K",
                   help="probabilities to show for a single digit (default: 3)")
    add_device(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per image: file, number, and per digit its verdict, "
                        "confidence, top two and box [x0, y0, x1, y1]; for a single digit also digit, "
                        "confidence and probs (10 digits)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from digittui.calibration import Calibration
    from digittui.classify import read
    from digittui.errors import ImageError
    from digittui.preprocess import clean, load_image

    _, [(cnn, _)] = load_models(args, "cnn")
    calibration = Calibration.from_dict(cnn.calibration)
    failures = 0
    for path in args.images:
        try:
            reading = read(cnn.model, clean(load_image(path)), calibration)
        except ImageError as exc:
            failures += 1
            message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
            if args.json:
                print_json({"file": path, "error": message})
            else:
                err_console.print(f"[red]error:[/] {escape(message)}", highlight=False)
            continue
        if args.json:
            print_json(_as_json(path, reading, cnn.model.config.num_classes))
        elif len(reading.digits) == 1:
            pred = reading.digits[0].prediction
            digits = pred.probs[:cnn.model.config.num_classes]
            ranked = sorted(range(len(digits)), key=digits.__getitem__, reverse=True)[:max(args.top, 1)]
            alts = "  ".join(f"{d}: {digits[d]:.1%}" for d in ranked)
            console.print(f"{escape(str(path))}: [bold]{escape(pred.describe())}[/]   {alts}", highlight=False)
        else:
            console.print(f"{escape(str(path))}: [bold]{escape(reading.describe())}[/]", highlight=False)
    return 1 if failures else 0


def _as_json(path: str, reading, num_classes: int) -> dict:
    digits = [{"digit": d.prediction.digit, "verdict": d.prediction.verdict.value,
               "confidence": round(d.prediction.confidence, 6),
               "top": [[k, round(p, 6)] for k, p in d.prediction.top(2)], "box": list(d.box)}
              for d in reading.digits]
    out = {"file": path, "number": reading.number, "verdict": "not a digit (blank)" if not digits else None,
           "digits": digits}
    if len(reading.digits) == 1:
        pred = reading.digits[0].prediction
        out.update(digit=pred.digit, confidence=pred.confidence, verdict=pred.verdict.value,
                   probs=pred.probs[:num_classes])
    elif digits:
        out["verdict"] = "number"
    return out
