"""Turning any picture of a digit into an MNIST-style 28x28 image.

MNIST's own recipe: ink is light on a dark background, the digit is scaled to fit a 20x20 box
(keeping its aspect ratio) and placed in the 28x28 frame so that its centre of mass is the centre.
The same steps serve image files and digits drawn on the TUI canvas. Photos and scans are cleaned
first (`clean`): uneven lighting is subtracted and the contrast stretched, so that faint ink on a
shaded page becomes full ink on black.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from digittui import safeio
from digittui.errors import ImageError

MAX_PIXELS = 40_000_000  # refuse bigger images instead of decoding hundreds of MB
INK_THRESHOLD = 0.1  # after normalising, pixels above this count as part of the digit
BACKGROUND_SIDE = 96  # the short side (pixels) of the copy the background is estimated on
BACKGROUND_WINDOW = 0.3  # the first opening's width, as a share of the long side: wider than strokes
STROKE_WINDOWS = 4  # the second opening's width, in stroke widths
NOISE_FLOOR = 0.15  # after cleaning, fainter pixels are paper texture or sensor noise


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as float32 [H, W] in [0, 1], ink light on dark.

    Transparency is composited onto white, 16-bit and palette images are converted, and a picture
    whose border is light (dark ink on paper) is inverted.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    with safeio.open_regular(path, "image", ImageError) as f:  # a folder or a FIFO: said so, no hang
        if os.fstat(f.fileno()).st_size == 0:
            raise ImageError(f"{path}: the file is empty")
        try:
            with Image.open(f) as img:
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
    if not np.isfinite(array).all():
        raise ImageError(f"{path}: some of its pixel values are NaN or infinite")
    border = np.concatenate([array[0], array[-1], array[:, 0], array[:, -1]])
    if np.median(border) > 0.5:
        array = 1.0 - array
    return array


def _to_gray(img) -> np.ndarray:
    """Any PIL mode -> float32 [H, W] in [0, 1] (1 = white)."""
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float32)
        if not np.isfinite(a).all():
            return a  # refused by load_image, which names the file
        lo, hi = float(a.min()), float(a.max())
        return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(img.convert("L"), dtype=np.float32) / 255.0


def clean(array: np.ndarray) -> np.ndarray:
    """Ink-on-dark float [H, W] -> the same with the background at 0 and the ink at 1.

    Photo-sized images are first smoothed a little (sensor noise is finer than any stroke). The
    background is a grey-level opening (a minimum, then a maximum filter) wider than the strokes,
    estimated on a copy whose short side is BACKGROUND_SIDE pixels: it follows uneven lighting (a
    lamp on one side, a shadow) but not the digits. A first pass with a window of a third of the
    long side finds the ink; a second one uses a window of a few stroke widths, so that it follows
    the light more closely. What is left is stretched to full contrast, ignoring isolated hot
    pixels, and whatever is within the noise of the background is set to 0. A blank image stays
    all zeros."""
    from scipy import ndimage

    a = np.asarray(array, dtype=np.float32)
    if a.ndim != 2 or a.size == 0:
        raise ImageError(f"expected a 2-D image, got shape {a.shape}")
    if min(a.shape) < BACKGROUND_SIDE / 3:  # an icon-sized image: no lighting to correct
        ink = a - a.min()
    else:
        a = ndimage.gaussian_filter(a, sigma=max(min(a.shape) / 300, 0.5))
        ink = a - _background(a, BACKGROUND_WINDOW)
        width = _stroke_width(ink)
        if width:
            ink = a - _background(a, None, STROKE_WINDOWS * width)
        ink = np.clip(ink, 0, None)
    top = float(ndimage.median_filter(ink, size=3).max()) if min(ink.shape) >= 3 else float(ink.max())
    if top < 1e-3:
        top = float(ink.max())
    if top < 1e-3:
        return np.zeros_like(a)  # blank: no ink anywhere
    out = np.clip(ink / top, 0, 1)
    low = out[out < np.median(out) + 1e-6] if out.size else out
    noise = 1.4826 * float(np.median(np.abs(low - np.median(low)))) if low.size else 0.0  # MAD -> sigma
    out[out < max(NOISE_FLOOR, 5 * noise)] = 0.0
    return out


def _background(a: np.ndarray, share: float | None, pixels: float = 0.0) -> np.ndarray:
    """The grey-level opening of `a` with a square window of `share` of the long side of the
    reduced copy, or of `pixels` full-size pixels; smoothed, at full size."""
    from scipy import ndimage

    scale = min(1.0, BACKGROUND_SIDE / min(a.shape))
    small = ndimage.zoom(a, scale, order=1) if scale < 1 else a
    window = max(3, round(share * max(small.shape) if share else pixels * scale))
    background = ndimage.uniform_filter(ndimage.grey_opening(small, size=(window, window)), size=window)
    if scale < 1:
        zoom = (a.shape[0] / background.shape[0], a.shape[1] / background.shape[1])
        background = ndimage.zoom(background, zoom, order=1)[:a.shape[0], :a.shape[1]]
    return np.minimum(background, a)


def _stroke_width(ink: np.ndarray) -> float:
    """A typical stroke width in pixels: twice the 90th percentile of the distance from an ink
    pixel to the nearest background pixel (0 when there is no clear ink)."""
    from scipy import ndimage

    top = float(ink.max())
    if top < 1e-3:
        return 0.0
    mask = ink > 0.5 * top
    depth = ndimage.distance_transform_edt(mask)[mask]
    return 2.0 * float(np.percentile(depth, 90)) if depth.size else 0.0


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
        return to_mnist(clean(load_image(path)))
    except ImageError as exc:
        if str(path) in str(exc):
            raise
        raise ImageError(f"{path}: {exc}") from None
