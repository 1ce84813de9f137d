"""How well does the Classify screen read digits drawn on its canvas? Drawing there is mouse strokes
through terminal cells (1 pixel wide, 2 pixels tall) with a round brush (`canvas.BRUSHES`), unlike
MNIST's scanned pen strokes. No person draws here: each MNIST test digit is traced instead. Its
skeleton (scikit-image's `skeletonize`) is redrawn on the 28x56 canvas as strokes between neighbouring
skeleton pixels, with the canvas's own brush (`canvas.stroke_ink`, what a mouse drag paints), at a
random height (16-26 pixels) and place; then read as the screen reads the canvas (`classify.read`).

    pip install -e '.[bench]'   # scikit-image, only for the benchmarks
    DIGITTUI_DATA=/path/to/data python benchmarks/canvas.py [--cnn FILE ...] [--n 1000]

"Read" = exactly that one digit (not split, not "not a digit"), for each brush radius. The same
drawings for every CNN. Default CNNs: the shipped CNN and generation's shipped decider. Prints one
JSON line per CNN; `--show PNG` saves the first drawings.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from skimage.morphology import skeletonize

from digittui import checkpoints, paths
from digittui.calibration import Calibration
from digittui.classify import Verdict, read
from digittui.data import load_mnist
from digittui.tui.widgets.canvas import BRUSHES, HEIGHT, WIDTH, stroke_ink

NEIGHBOURS = ((0, 1), (1, -1), (1, 0), (1, 1))  # each 8-neighbour pair once


def strokes(image: np.ndarray, rng: np.random.Generator) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """The digit's skeleton as (column, cell row) strokes between neighbouring skeleton pixels, scaled to
    a random height and placed at a random spot of the canvas."""
    skeleton = skeletonize(image > 0.5)
    ys, xs = np.nonzero(skeleton)
    height = rng.uniform(16, 26)
    scale = height / max(ys.max() - ys.min() + 1, 1)
    width = (xs.max() - xs.min() + 1) * scale
    left = rng.uniform(2, max(WIDTH - width - 2, 2))
    top = rng.uniform(1, max(HEIGHT - height - 1, 1))

    def cell(y: int, x: int) -> tuple[int, int]:
        column = int(round(left + (x - xs.min()) * scale))
        row = int(round((top + (y - ys.min()) * scale - 0.5) / 2))
        return min(column, WIDTH - 1), min(max(row, 0), HEIGHT // 2 - 1)

    on = set(zip(ys.tolist(), xs.tolist()))
    found = {(cell(y, x), cell(y, x)) for y, x in on}  # lone pixels are dots
    for y, x in on:
        for dy, dx in NEIGHBOURS:
            if (y + dy, x + dx) in on:
                found.add((cell(y, x), cell(y + dy, x + dx)))
    return sorted(found)


def draw(lines, radius: float) -> np.ndarray:
    pixels = np.zeros((HEIGHT, WIDTH), np.float32)
    for start, end in lines:
        stroke_ink(pixels, radius, start, end)
    return pixels


def main() -> None:
    parser = argparse.ArgumentParser(description="Reading MNIST test digits traced on the draw canvas.")
    parser.add_argument("--cnn", action="append",
                        help="CNN checkpoint, repeatable (default: the shipped CNN and the shipped decider)")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA)")
    parser.add_argument("--n", type=int, default=1000, help="test digits (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="which digits, heights and places (default: 0)")
    parser.add_argument("--show", metavar="PNG", help="save the first 32 drawings (default brush) to PNG")
    args = parser.parse_args()

    test = load_mnist(paths.data_dir(args.data_dir), train=False)
    rng = np.random.default_rng(args.seed)
    picked = rng.choice(len(test.labels), args.n, replace=False)
    images = test.images.numpy()[picked].astype(np.float32) / 255
    labels = test.labels.numpy()[picked]
    drawings = [strokes(image, rng) for image in images]
    if args.show:
        from digittui import export

        export.save_png_grid(args.show, np.stack([draw(d, BRUSHES[2]) for d in drawings[:32]]),
                             titles=[str(x) for x in labels[:32]], columns=4)

    for path in args.cnn or [paths.shipped_checkpoint("cnn"), paths.shipped_checkpoint("decider")]:
        ckpt = checkpoints.load(path, "cnn")
        calibration = Calibration.from_dict(ckpt.calibration)
        result: dict = {"cnn": str(path), "n": args.n, "seed": args.seed}
        for radius in BRUSHES:
            right = flagged = 0
            for lines, label in zip(drawings, labels):
                digits = read(ckpt.model, draw(lines, radius), calibration).digits
                right += [d.prediction.digit for d in digits] == [label] and \
                    digits[0].prediction.verdict is not Verdict.NOT_A_DIGIT
                flagged += any(d.prediction.verdict is Verdict.NOT_A_DIGIT for d in digits)
            result[f"brush_{radius:g}"] = {"read": round(right / args.n, 4), "not_a_digit": round(flagged / args.n, 4)}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
