"""Images that are not digits, made the way a user's file would reach the CNN (`preprocess.to_mnist`):

    letters     A-Z and a-z in five DejaVu fonts that matplotlib ships (Sans, Sans Bold, Serif,
                Serif Italic, Sans Mono), upright and turned by +-8 degrees; without the lookalikes,
                letters whose printed shape is a digit's (digittui.outliers.LOOKALIKES)
    lookalikes  those letters (O o I l i S s Z z B b G g q), kept apart: no reader can tell them from digits
    strokes     random scribbles: 3-8 jagged pen strokes of random width on one canvas, drawn with PIL

Training's outlier exposure (digittui.outliers) uses letters in other font families (STIX,
Computer Modern) and its own tensor-made scribbles; none of these images.
"""

from __future__ import annotations

import string

import numpy as np

from digittui.outliers import LOOKALIKES, render_letter

FONTS = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf")


def letters(which: str = "letters") -> np.ndarray:
    """[N, 28, 28] preprocessed letters: which = "letters" (no lookalikes) or "lookalikes"."""
    from digittui.preprocess import to_mnist

    chars = [c for c in string.ascii_letters if (c in LOOKALIKES) == (which == "lookalikes")]
    return np.stack([to_mnist(render_letter(c, f, a)) for f in FONTS for c in chars for a in (-8, 0, 8)])


def strokes(n: int = 300, seed: int = 0) -> np.ndarray:
    """[n, 28, 28] preprocessed scribbles."""
    from PIL import Image, ImageDraw

    from digittui.preprocess import to_mnist

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        img = Image.new("L", (200, 200), 0)
        draw = ImageDraw.Draw(img)
        for _ in range(rng.integers(3, 9)):
            points = np.cumsum(rng.normal(0, 40, size=(rng.integers(2, 6), 2)), axis=0) + rng.uniform(40, 160, 2)
            draw.line([tuple(p) for p in points.clip(5, 195)], fill=255, width=int(rng.integers(4, 14)))
        out.append(to_mnist(np.asarray(img, dtype=np.float32) / 255))
    return np.stack(out)
