"""Images that are not digits, made the way a user's file would reach the CNN (`preprocess.to_mnist`):

    letters     A-Z and a-z in five fonts matplotlib ships (DejaVu Sans, DejaVu Serif Italic,
                DejaVu Sans Mono Bold, STIX General, Computer Modern Sans), upright and turned by
                +-8 degrees; without LOOKALIKES, letters whose printed shape is a digit's
    lookalikes  those letters (O o I l i S s Z z B b G g q), kept apart: no reader can tell them from digits
    strokes     random scribbles: 3-8 jagged pen strokes of random width on one canvas

Nothing here is used in training. `flagged_rate` in `calibration.py` and the tests read these.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np

LOOKALIKES = "OoIliSsZzBbGgq"
FONTS = ("DejaVuSans.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono-Bold.ttf", "STIXGeneral.ttf", "cmss10.ttf")


def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _render(char: str, font_file: str, angle: float) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(_font_dir() / font_file), 160)
    img = Image.new("L", (300, 300), 0)
    ImageDraw.Draw(img).text((150, 150), char, fill=255, font=font, anchor="mm")
    return np.asarray(img.rotate(angle, resample=Image.Resampling.BILINEAR), dtype=np.float32) / 255


def letters(which: str = "letters") -> np.ndarray:
    """[N, 28, 28] preprocessed letters: which = "letters" (no lookalikes) or "lookalikes"."""
    from digittui.preprocess import to_mnist

    chars = [c for c in string.ascii_letters if (c in LOOKALIKES) == (which == "lookalikes")]
    return np.stack([to_mnist(_render(c, f, a)) for f in FONTS for c in chars for a in (-8, 0, 8)])


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
