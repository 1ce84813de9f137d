"""Non-digits made on the fly for outlier exposure (Hendrycks et al. 2019): training pushes the CNN's
digit probabilities on them towards uniform, so that a low confidence can say "not a digit".

    letters    A-Z, a-z in the STIX and Computer Modern fonts that matplotlib ships, made MNIST-like
               by `preprocess.to_mnist`; without LOOKALIKES, the letters printed like digits
               (`benchmarks/nondigits.py` measures on DejaVu fonts, which training never sees)
    scribbles  3-5 random curved pen strokes of random width, made on the batch's device

The loss (`uniform_loss`) looks at the 10 digit outputs only: the spare units (10-15) get no
gradient from it, so no training example ever targets them (the generator's `class:N` relies on it).
"""

from __future__ import annotations

import string

import torch
import torch.nn.functional as F

LOOKALIKES = "OoIliSsZzBbGgq"  # printed like 0, 1, 2, 5, 6, 8, 9: no reader can tell them apart
TRAIN_FONTS = ("STIXGeneral.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBol.ttf", "cmr10.ttf", "cmti10.ttf",
               "cmtt10.ttf", "cmss10.ttf")


def _rand(shape, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=generator.device)


def render_letter(char: str, font_file: str, angle: float = 0.0):
    """One character in a matplotlib font, light on dark, as a float [300, 300] array."""
    from pathlib import Path

    import matplotlib
    import numpy as np
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / font_file), 160)
    img = Image.new("L", (300, 300), 0)
    ImageDraw.Draw(img).text((150, 150), char, fill=255, font=font, anchor="mm")
    return np.asarray(img.rotate(angle, resample=Image.Resampling.BILINEAR), dtype=np.float32) / 255


def letters(device: torch.device | str, fonts: tuple[str, ...] = TRAIN_FONTS) -> torch.Tensor:
    """[N, 1, 28, 28] letters (no lookalikes) in `fonts`, MNIST-style, on `device`."""
    import numpy as np

    from digittui.preprocess import to_mnist

    chars = [c for c in string.ascii_letters if c not in LOOKALIKES]
    images = np.stack([to_mnist(render_letter(c, f)) for f in fonts for c in chars])
    return torch.from_numpy(images)[:, None].to(device)


def scribbles(n: int, generator: torch.Generator, device: torch.device | str, size: int = 28,
              samples: int = 20) -> torch.Tensor:
    """[n, 1, size, size] images of 3-5 quadratic Bezier strokes each, in the digit box (4-24 px);
    fewer strokes too often make a digit."""
    most = 5
    u = _rand((n, most, 8), generator).to(device)
    control = 4 + u[..., :6].view(n, most, 3, 2) * (size - 8)  # [n, strokes, 3 points, xy]
    t = torch.linspace(0, 1, samples, device=device).view(1, 1, -1, 1)
    p0, p1, p2 = control[:, :, 0:1], control[:, :, 1:2], control[:, :, 2:3]
    points = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2  # [n, strokes, samples, 2]
    coords = torch.arange(size, device=device, dtype=torch.float32)
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    pixels = torch.stack([xs.flatten(), ys.flatten()], 1)  # [size*size, 2]
    d = torch.cdist(points.reshape(n, -1, 2), pixels[None].expand(n, -1, -1))  # [n, strokes*samples, P]
    d = d.view(n, most, samples, -1).amin(2)  # distance of every pixel to each stroke
    count = 3 + (u[:, 0, 6] * 3).floor()
    used = torch.arange(most, device=device).view(1, -1, 1) < count.view(-1, 1, 1)
    half_width = (0.4 + u[..., 7:8] * 1.0)  # [n, strokes, 1]: 0.8-2.8 px strokes
    ink = ((half_width + 0.5 - d).clamp(0, 1) * used).amax(1)
    return ink.view(n, 1, size, size)


def uniform_loss(digit_logits: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy from the uniform distribution over the digits to the softmax of their logits
    [B, 10], averaged over the rows (or over `weights` [B], e.g. 1 for outliers and 0 for digits,
    which keeps shapes fixed for CUDA graphs): lowest when all 10 are equally likely."""
    per_row = -F.log_softmax(digit_logits.float(), dim=1).mean(1)
    if weights is None:
        return per_row.mean()
    return (per_row * weights).sum() / weights.sum().clamp(min=1)
