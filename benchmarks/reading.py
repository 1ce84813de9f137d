"""How well does `digittui classify` read whole images? MNIST test digits made into pictures the way
users make them (dark ink on white paper, enlarged 4x, PNG-free: the arrays go through
`preprocess.clean` and `classify.read` exactly as a loaded file does):

    single    one digit per image: read as exactly that one digit (not split, not "not a digit")
    numbers   4 digits side by side with gaps of 2-10 pixels (28-pixel scale): read as the number
    touching  2 digits pushed together until their ink touches (one connected piece)
    broken    one digit cut by a 2-pixel gap across its middle (vertical or horizontal)
    scans     one digit on a photo-like page: off-centre on a large page, thick ink, faint ink on
              grey paper, uneven lighting (a bright-to-dark gradient and a shadow), low contrast
              with noise; each with the old preprocessing (no `clean`) for comparison

    DIGITTUI_DATA=/path/to/data python benchmarks/reading.py [--cnn FILE] [--n 500]

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy import ndimage

from digittui import checkpoints
from digittui.calibration import Calibration
from digittui.classify import Verdict, classify, read
from digittui.data import load_mnist
from digittui.errors import ImageError
from digittui.paths import data_dir
from digittui.preprocess import clean, to_mnist


def paper(ink: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light-on-dark [H, W] -> a scan as `load_image` returns it (already inverted): 4x larger."""
    return ndimage.zoom(ink, 4, order=1).clip(0, 1)


def exact(reading, digits: list[int]) -> bool:
    return [d.prediction.digit for d in reading.digits] == digits and \
        all(d.prediction.verdict is not Verdict.NOT_A_DIGIT for d in reading.digits)


def row(images: list[np.ndarray], gaps: list[int]) -> np.ndarray:
    """Digits [28, 28] side by side, trimmed to their ink, `gaps` pixels apart (negative overlaps)."""
    parts = []
    for img in images:
        cols = np.flatnonzero(img.max(0) > 0.1)
        parts.append(img[:, cols[0]:cols[-1] + 1])
    width = sum(p.shape[1] for p in parts) + sum(gaps) + 16
    out = np.zeros((36, width), dtype=np.float32)
    x = 8
    for p, gap in zip(parts, gaps + [0]):
        out[4:32, x:x + p.shape[1]] = np.maximum(out[4:32, x:x + p.shape[1]], p)
        x += p.shape[1] + gap
    return out


def touching(a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """a and b pushed together until their ink forms one connected piece (None if it never does)."""
    for gap in range(2, -12, -1):
        img = row([a, b], [gap])
        if ndimage.label(img > 0.3, structure=np.ones((3, 3)))[1] == 1:
            return img
    return None


def broken(img: np.ndarray, vertical: bool) -> np.ndarray:
    out = np.pad(img, 4).copy()
    ys, xs = np.nonzero(out > 0.1)
    if vertical:
        c = int(round(xs.mean()))
        out[:, c - 1:c + 1] = 0
    else:
        c = int(round(ys.mean()))
        out[c - 1:c + 1, :] = 0
    return out


def scans(img: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One digit as several kinds of scans, each dark ink on light paper turned into load_image's
    light-on-dark form (1 - paper)."""
    big = ndimage.zoom(img, 5, order=1).clip(0, 1)  # 140 x 140
    page = np.zeros((300, 420), dtype=np.float32)
    y, x = rng.integers(10, 300 - 150), rng.integers(10, 120)  # off-centre, left part of the page
    page[y:y + 140, x:x + 140] = big
    h, w = page.shape
    gradient = np.linspace(1.0, 0.45, w)[None, :] * np.ones((h, 1))
    shadow = 1 - 0.35 * np.exp(-(((np.arange(h)[:, None] - h * 0.8) / 60) ** 2))
    out = {
        "off_centre": page,
        "thick": np.maximum(page, ndimage.grey_dilation(page, size=(13, 13))),
        "faint": 1 - (0.85 - 0.25 * page + rng.normal(0, 0.02, page.shape)),
        "uneven_light": 1 - (gradient * shadow * (1 - 0.8 * page) + rng.normal(0, 0.02, page.shape)),
        "low_contrast_noisy": 1 - (0.6 - 0.2 * page + rng.normal(0, 0.05, page.shape)),
    }
    return {k: v.clip(0, 1).astype(np.float32) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description="Reading digits and numbers from whole images.")
    parser.add_argument("--cnn", help="CNN checkpoint (default: your trained one, else the shipped one)")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA)")
    parser.add_argument("--n", type=int, default=500, help="cases of each kind (default: 500)")
    parser.add_argument("--seed", type=int, default=0, help="which digits and gaps (default: 0)")
    args = parser.parse_args()

    ckpt = checkpoints.load_default("cnn", args.cnn)[0]
    model, calibration = ckpt.model, Calibration.from_dict(ckpt.calibration)
    test = load_mnist(data_dir(args.data_dir), train=False)
    images, labels = test.images.numpy().astype(np.float32) / 255, test.labels.numpy()
    rng = np.random.default_rng(args.seed)
    pick = lambda k: rng.choice(len(labels), k, replace=False)  # noqa: E731

    def reads(img: np.ndarray, digits: list[int]) -> bool:
        return exact(read(model, clean(paper(img, rng)), calibration), digits)

    result = {"cnn": str(ckpt.path), "n": args.n, "seed": args.seed}
    result["single"] = np.mean([reads(np.pad(images[i], 4), [int(labels[i])]) for i in pick(args.n)])
    numbers = []
    for _ in range(args.n):
        idx = pick(4)
        numbers.append(reads(row([images[i] for i in idx], list(rng.integers(2, 11, 3))), [int(labels[i]) for i in idx]))
    result["numbers"] = np.mean(numbers)
    pairs = []
    while len(pairs) < args.n:
        i, j = pick(2)
        img = touching(images[i], images[j])
        if img is not None:
            pairs.append(reads(img, [int(labels[i]), int(labels[j])]))
    result["touching"] = np.mean(pairs)
    result["broken"] = np.mean([reads(broken(images[i], bool(k % 2)), [int(labels[i])])
                                for k, i in enumerate(pick(args.n))])
    scan_new: dict[str, list[bool]] = {}
    scan_old: dict[str, list[bool]] = {}
    for i in pick(min(args.n, 200)):
        for kind, page in scans(images[i], rng).items():
            scan_new.setdefault(kind, []).append(exact(read(model, clean(page), calibration), [int(labels[i])]))
            try:  # before `clean`: the whole page straight into to_mnist, as one digit
                old = classify(model, to_mnist(page), calibration)[0].digit == labels[i]
            except ImageError:
                old = False
            scan_old.setdefault(kind, []).append(bool(old))
    result["scans"] = {k: round(float(np.mean(v)), 4) for k, v in scan_new.items()}
    result["scans_without_clean"] = {k: round(float(np.mean(v)), 4) for k, v in scan_old.items()}
    print(json.dumps({k: round(float(v), 4) if isinstance(v, (float, np.floating)) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
