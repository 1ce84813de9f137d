"""Turning any picture of a digit into an MNIST-style 28x28 image.

MNIST's own recipe: ink is light on a dark background, the digit is scaled to fit a 20x20 box
(keeping its aspect ratio) and placed in the 28x28 frame so that its centre of mass is the centre.
The same steps serve image files and digits drawn on the TUI canvas.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from digittui.errors import ImageError

MAX_PIXELS = 40_000_000  # refuse bigger images instead of decoding hundreds of MB
INK_THRESHOLD = 0.1  # after normalising, pixels above this count as part of the digit


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as float32 [H, W] in [0, 1], ink light on dark.

    Transparency is composited onto white, 16-bit and palette images are converted, and a picture
    whose border is light (dark ink on paper) is inverted.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise ImageError(f"{path}: the file is empty")
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(f"{path}: {img.width}x{img.height} is too large "
                                 f"(limit {MAX_PIXELS:,} pixels); scale it down first")
            img.load()
            array = _to_gray(img)
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{path}: not an image this program can read ({exc.__class__.__name__})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{path}: cannot decode the image ({exc})") from None
    border = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
    if np.median(border) > 0.5:
        array = 1.0 - array
    return array


def _to_gray(img) -> np.ndarray:
    """Any PIL mode -> float32 [H, W] in [0, 1] (1 = white)."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float32)
        lo, hi = float(a.min()), float(a.max())
        return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def to_mnist(array: np.ndarray) -> np.ndarray:
    """Ink-on-dark float [H, W] -> float32 [28, 28]: cropped, fitted to 20x20, centred by mass."""
    from PIL import Image

    a = np.asarray(array, dtype=np.float32)
    if a.ndim != 2 or a.size == 0:
        raise ImageError(f"expected a 2-D image, got shape {a.shape}")
    lo, hi = float(a.min()), float(a.max())
    if hi - lo < 1e-3:
        raise ImageError("no digit found: the image is blank")
    a = (a - lo) / (hi - lo)
    rows = np.flatnonzero((a > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((a > INK_THRESHOLD).any(axis=0))
    a = a[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = a.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray((a * 255).astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    digit = np.asarray(small, dtype=np.float32) / 255.0
    out = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - new_h) // 2, (28 - new_w) // 2
    out[top:top + new_h, left:left + new_w] = digit
    return _center_by_mass(out)


def _center_by_mass(a: np.ndarray) -> np.ndarray:
    total = a.sum()
    ys, xs = np.indices(a.shape)
    dy = int(round(13.5 - (ys * a).sum() / total))
    dx = int(round(13.5 - (xs * a).sum() / total))
    # A 20x20 box in 28x28 leaves 4 pixels each side: never shift ink out of the frame.
    rows, cols = np.flatnonzero(a.any(1)), np.flatnonzero(a.any(0))
    dy = int(np.clip(dy, -rows[0], 27 - rows[-1]))
    dx = int(np.clip(dx, -cols[0], 27 - cols[-1]))
    return np.roll(a, (dy, dx), axis=(0, 1))


def load_digit(path: str | os.PathLike) -> np.ndarray:
    """An image file as an MNIST-style float32 [28, 28]."""
    try:
        return to_mnist(load_image(path))
    except ImageError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ImageError(f"{path}: {exc}") from None
