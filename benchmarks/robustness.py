"""How well does the CNN read handwriting unlike MNIST's? A corruption benchmark in the spirit of
MNIST-C (Mu & Gilmer 2019): each corruption alone, at one fixed strength, applied to every test
image with a fixed seed; accuracy per corruption, their mean and the worst.

Two groups, reported apart and together:
    trained   the kinds `digittui.distort.wild` trains on (at about its strongest): stroke thickness
              (erosion, dilation), low resolution (8x8 and back), blur, elastic wobble, slant,
              Gaussian noise, broken strokes, outlines of the strokes (hollow digits), ruled paper
    held_out  kinds no training recipe here uses, implemented only in this file: motion blur,
              salt-and-pepper noise, rotation by 20-30 degrees, a photo taken at an angle (perspective)

Then real handwriting from outside MNIST: the UCI optical digits (1,797 images, 8x8, 43 writers;
scikit-learn's bundled `load_digits`, needs `pip install scikit-learn`) through digittui's own
preprocessing (`preprocess.to_mnist`), as `digittui classify` sees an image.

    DIGITTUI_DATA=/path/to/data python benchmarks/robustness.py [--cnn FILE ...] [--split val]

`--split val` measures on the last 5,000 training images instead (the validation split that
`--holdout 5000` keeps out of training): use it while choosing a recipe, and the test set only to
report. Prints one JSON line per checkpoint. `--show PNG` saves the first images of each corruption.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import zlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from digittui import checkpoints, distort
from digittui.data import load_mnist
from digittui.paths import data_dir


def _per_image(x: torch.Tensor, value: float) -> torch.Tensor:
    return torch.full((x.shape[0],), float(value))


def _signs(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.randint(0, 2, (x.shape[0],), generator=g).float() * 2 - 1


def motion_blur(x, g, length: int = 7):
    """A straight smear `length` pixels long at a random angle per image (camera shake)."""
    b = x.shape[0]
    angle = torch.rand(b, generator=g) * math.pi
    r = length // 2
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    ys, xs = torch.meshgrid(t, t, indexing="ij")
    along = xs[None] * torch.cos(angle)[:, None, None] + ys[None] * torch.sin(angle)[:, None, None]
    across = -xs[None] * torch.sin(angle)[:, None, None] + ys[None] * torch.cos(angle)[:, None, None]
    kernel = ((across.abs() <= 0.5) & (along.abs() <= r)).float()
    kernel = kernel / kernel.sum((1, 2), keepdim=True)
    y = F.conv2d(x.reshape(1, b, 28, 28), kernel[:, None], padding=r, groups=b)
    return y.view_as(x)


def impulse_noise(x, g, amount: float = 0.08):
    """Salt and pepper: `amount` of the pixels set to full ink or to background."""
    u = torch.rand(x.shape, generator=g)
    return torch.where(u < amount / 2, 1.0, torch.where(u < amount, 0.0, x))


def perspective(x, g, tilt: float = 0.35):
    """A photo taken at an angle: one side of the digit nearer the camera than the other, by up
    to `tilt` (the far side shrinks by that fraction), in a random direction."""
    b = x.shape[0]
    angle = torch.rand(b, generator=g) * 2 * math.pi
    coords = torch.linspace(-1 + 1 / 28, 1 - 1 / 28, 28)
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    along = xs[None] * torch.cos(angle)[:, None, None] + ys[None] * torch.sin(angle)[:, None, None]
    depth = 1 + tilt * along  # > 1: farther, drawn smaller, so the input is sampled farther out
    grid = torch.stack([xs[None] * depth, ys[None] * depth], dim=-1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def rotate(x, g, low: float = 20.0, high: float = 30.0):
    """Rotation by 20-30 degrees either way (training's augmentation stops at 10)."""
    from digittui.data import affine

    b = x.shape[0]
    degrees = (low + torch.rand(b, generator=g) * (high - low)) * _signs(x, g)
    return affine(x, torch.deg2rad(degrees), torch.ones(b), torch.zeros(b, 2))


TRAINED = {
    "thin": lambda x, g: distort.thickness(x, _per_image(x, -1.0)),
    "thick": lambda x, g: distort.thickness(x, _per_image(x, 2.0)),
    "low_resolution_8": lambda x, g: distort.low_resolution(x, _per_image(x, 8).long()),
    "blur": lambda x, g: distort.blur(x, _per_image(x, 1.5)),
    "elastic": lambda x, g: distort.elastic(x, _per_image(x, 2.5), g),
    "slant": lambda x, g: distort.slant(x, 0.4 * _signs(x, g)),
    "noise": lambda x, g: distort.noise(x, _per_image(x, 0.3), g),
    "broken_strokes": lambda x, g: distort.broken_strokes(x, _per_image(x, 2), g),
    "outline": lambda x, g: distort.outline(x, torch.ones(x.shape[0], dtype=torch.bool)),
    "ruled_lines": lambda x, g: distort.ruled_lines(  # a line every 7 rows, at a random offset, half ink
        x, _per_image(x, 7), torch.randint(0, 7, (x.shape[0],), generator=g), _per_image(x, 0.5)),
}
HELD_OUT = {"motion_blur": motion_blur, "impulse_noise": impulse_noise, "rotate_20_30": rotate,
            "perspective": perspective}


def corrupted(images: torch.Tensor, seed: int) -> dict[str, torch.Tensor]:
    """Every corruption of images [N, 1, 28, 28]; each draws from its own generator, seeded by its
    name, so adding, removing or regrouping one never changes another's images."""
    out = {}
    for name, fn in {**TRAINED, **HELD_OUT}.items():
        g = torch.Generator().manual_seed(seed * 2**32 + zlib.crc32(name.encode()))
        out[name] = fn(images, g).clamp(0, 1)
    return out


@torch.no_grad()
def accuracy(model, images: torch.Tensor, labels: torch.Tensor, batch: int = 1000) -> float:
    digits = model.config.num_classes
    correct = sum(int((model(images[s:s + batch]).float()[:, :digits].argmax(1) == labels[s:s + batch]).sum())
                  for s in range(0, len(images), batch))
    return correct / len(images)


def uci_digits() -> tuple[torch.Tensor, torch.Tensor] | None:
    """The UCI 8x8 digits through digittui's preprocessing, or None without scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return None
    from digittui.preprocess import to_mnist

    uci = load_digits()
    images = np.stack([to_mnist(a / 16.0) for a in uci.images])  # ink is the high value already
    return torch.from_numpy(images)[:, None], torch.from_numpy(uci.target).long()


def save_examples(path: str, clean: torch.Tensor, sets: dict[str, torch.Tensor], n: int = 12) -> None:
    from digittui.export import save_png_grid

    rows = [clean[:n, 0]] + [x[:n, 0] for x in sets.values()]
    save_png_grid(path, torch.cat(rows), columns=n, title="clean, then " + ", ".join(sets))


def main() -> None:
    parser = argparse.ArgumentParser(description="Accuracy of the CNN under corruptions (MNIST-C style).")
    parser.add_argument("--cnn", action="append",
                        help="CNN checkpoint, repeatable (default: your trained one, else the shipped one)")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA)")
    parser.add_argument("--split", choices=("test", "val"), default="test",
                        help="test: the 10,000 test images; val: the last 5,000 training images (default: test)")
    parser.add_argument("--seed", type=int, default=0, help="corruption seed (default: 0)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (default: all)")
    parser.add_argument("--show", metavar="PNG", help="save a grid of the first corrupted images")
    args = parser.parse_args()

    digits = load_mnist(data_dir(args.data_dir), train=args.split == "val")
    if args.split == "val":
        digits.images, digits.labels = digits.images[-5000:], digits.labels[-5000:]
    images, labels = digits.float_images(), digits.labels
    if args.limit:
        images, labels = images[:args.limit], labels[:args.limit]
    sets = corrupted(images, args.seed)
    if args.show:
        save_examples(args.show, images, sets)
    uci = uci_digits()
    for path in args.cnn or [None]:
        ckpt, source = checkpoints.load_default("cnn", path)
        model = ckpt.model.eval()
        acc = {name: round(accuracy(model, x, labels), 4) for name, x in sets.items()}
        trained = [acc[k] for k in TRAINED]
        held = [acc[k] for k in HELD_OUT]
        result = {
            "cnn": str(ckpt.path), "source": source, "split": args.split, "images": len(labels),
            "seed": args.seed, "clean": round(accuracy(model, images, labels), 4),
            "mean": round(float(np.mean(trained + held)), 4), "worst": min(acc, key=acc.get),
            "worst_accuracy": min(acc.values()),
            "mean_trained": round(float(np.mean(trained)), 4), "mean_held_out": round(float(np.mean(held)), 4),
            "corruptions": acc,
        }
        if uci is not None:
            uci_x, uci_y = uci
            with torch.no_grad():
                pred = model(uci_x).float()[:, :model.config.num_classes].argmax(1)
            result["uci_digits"] = round(float((pred == uci_y).float().mean()), 4)
            result["uci_per_digit"] = {d: round(float((pred[uci_y == d] == d).float().mean()), 3) for d in range(10)}
        print(json.dumps(result))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
