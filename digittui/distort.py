"""Handwriting unlike MNIST's, as tensor ops on float batches [B, 1, H, W] in [0, 1] (ink light).

Each op takes per-image parameters as tensors [B], so one call distorts a whole batch on its own
device (CPU or GPU) with no Python loop over images. `wild` draws a random mix of them for training;
`benchmarks/robustness.py` applies each one alone at a fixed strength to measure what it costs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _rand(shape, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(shape, generator=generator, device=generator.device)


def thickness(x: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """Thinner or thicker strokes: amount [B] in [-1, 2]; -1 is an erosion by a plus-shaped 3x3
    neighbourhood (a 3x3 square erases most of MNIST's 2-3 pixel strokes), 0 the image, 1 a 3x3
    dilation, 2 two of them; values in between blend the neighbouring levels (grey-level morphology)."""
    padded = F.pad(x, (1, 1, 1, 1))
    eroded = torch.minimum(torch.minimum(padded[..., :-2, 1:-1], padded[..., 2:, 1:-1]),
                           torch.minimum(padded[..., 1:-1, :-2], padded[..., 1:-1, 2:]))
    eroded = torch.minimum(eroded, x)
    dilated = F.max_pool2d(x, 3, 1, 1)
    levels = torch.stack([eroded, x, dilated, F.max_pool2d(dilated, 3, 1, 1)])  # [4, B, 1, H, W]
    position = (amount.to(x.device, x.dtype).clamp(-1, 2) + 1).view(1, -1, 1, 1, 1)
    weights = (1 - (position - torch.arange(4, device=x.device, dtype=x.dtype).view(-1, 1, 1, 1, 1)).abs()).clamp(min=0)
    return (levels * weights).sum(0)


def low_resolution(x: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    """Down-sample each image to size [B] x size pixels (area average) and back up (bilinear), as a
    low-resolution scan enlarged again. Sizes >= the image's are left alone."""
    out = x.clone()
    h = x.shape[-1]
    for s in size.unique().tolist():
        if s >= h:
            continue
        index = (size == s).nonzero().flatten().to(x.device)
        small = F.interpolate(x[index], size=(int(s), int(s)), mode="area")
        out[index] = F.interpolate(small, size=x.shape[-2:], mode="bilinear", align_corners=False)
    return out


def blur(x: torch.Tensor, sigma: torch.Tensor, radius: int = 4) -> torch.Tensor:
    """Gaussian blur with a standard deviation of sigma [B] pixels per image (0 = none)."""
    b = x.shape[0]
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    s = sigma.to(x.device, x.dtype).clamp(min=1e-3).view(b, 1)
    k1 = torch.exp(-0.5 * (t / s) ** 2)
    k1 = k1 / k1.sum(1, keepdim=True)  # [B, K]; sigma ~0 gives a delta
    # Separable, one kernel per image: the batch becomes the channels of a grouped convolution.
    y = F.conv2d(x.reshape(1, b, *x.shape[-2:]), k1.view(b, 1, 1, -1), padding=(0, radius), groups=b)
    y = F.conv2d(y, k1.view(b, 1, -1, 1), padding=(radius, 0), groups=b)
    return y.view_as(x)


def _warp(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)


def _identity_grid(x: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(2, 3, device=x.device, dtype=x.dtype).expand(x.shape[0], 2, 3)
    return F.affine_grid(eye, list(x.shape), align_corners=False)  # [B, H, W, 2]


def slant(x: torch.Tensor, shear: torch.Tensor) -> torch.Tensor:
    """Italic-like slant: each row shifts sideways by shear [B] times its height from the centre
    (0.3 moves the top and bottom rows ~4 pixels on a 28x28 digit, the opposite ways)."""
    grid = _identity_grid(x).clone()
    grid[..., 0] = grid[..., 0] + shear.to(x.device, x.dtype).view(-1, 1, 1) * grid[..., 1]
    return _warp(x, grid)


def elastic(x: torch.Tensor, alpha: torch.Tensor, generator: torch.Generator, cells: int = 4) -> torch.Tensor:
    """Smooth random wobble of the strokes: a random displacement field on a cells x cells lattice,
    up to alpha [B] pixels, interpolated (bicubic) to every pixel."""
    b, h = x.shape[0], x.shape[-1]
    field = (_rand((b, 2, cells, cells), generator).to(x.device, x.dtype) * 2 - 1)
    field = F.interpolate(field, size=x.shape[-2:], mode="bicubic", align_corners=True)
    field = field * (alpha.to(x.device, x.dtype).view(-1, 1, 1, 1) * 2 / h)  # pixels -> grid units
    return _warp(x, _identity_grid(x) + field.permute(0, 2, 3, 1))


def noise(x: torch.Tensor, std: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Additive Gaussian noise of std [B] (in units of full ink), clipped to [0, 1]."""
    n = torch.randn(x.shape, generator=generator, device=generator.device).to(x.device, x.dtype)
    return (x + n * std.to(x.device, x.dtype).view(-1, 1, 1, 1)).clamp(0, 1)


def broken_strokes(x: torch.Tensor, gaps: torch.Tensor, generator: torch.Generator,
                   width: float = 1.5) -> torch.Tensor:
    """Strokes interrupted by gaps [B] (0-3) straight cuts of `width` pixels at random angles
    through the central part of the image, as a pen skipping or a scan losing thin lines."""
    b, h = x.shape[0], x.shape[-1]
    most = 3
    u = _rand((b, most, 3), generator).to(x.device, x.dtype)
    angle = u[..., 0] * math.pi
    centre = (u[..., 1:] - 0.5) * (h * 0.5)  # through the middle half, where the strokes are
    coords = torch.arange(h, device=x.device, dtype=x.dtype) - (h - 1) / 2
    ys, xs = coords.view(1, 1, h, 1), coords.view(1, 1, 1, h)
    nx, ny = torch.cos(angle)[..., None, None], torch.sin(angle)[..., None, None]
    distance = ((xs - centre[..., 0, None, None]) * nx + (ys - centre[..., 1, None, None]) * ny).abs()
    active = (torch.arange(most, device=x.device).view(1, -1) < gaps.to(x.device).view(-1, 1))
    cut = ((distance < width / 2) & active[..., None, None]).any(1, keepdim=True)  # [B, 1, H, W]
    return x.masked_fill(cut, 0.0)


def outline(x: torch.Tensor, on: torch.Tensor) -> torch.Tensor:
    """Hollow strokes where on [B] is true: the dilated digit minus the digit, scaled to full ink
    (a digit drawn in outline, or the edges a photo filter leaves, like MNIST-C's canny edges)."""
    dilated = F.max_pool2d(x, 3, 1, 1)
    hollow = (dilated - x).clamp(0, 1) / dilated.amax((2, 3), keepdim=True).clamp(min=1e-6)
    return torch.where(on.to(x.device).view(-1, 1, 1, 1), hollow, x)


def ruled_lines(x: torch.Tensor, spacing: torch.Tensor, offset: torch.Tensor, ink: torch.Tensor) -> torch.Tensor:
    """Notebook paper under the digit: horizontal lines every spacing [B] rows (0 = none), starting
    offset [B] rows down, as faint as ink [B]; the pen's ink stays on top (the brighter value wins)."""
    rows = torch.arange(x.shape[-2], device=x.device).view(1, 1, -1, 1)
    spacing = spacing.to(x.device).long().view(-1, 1, 1, 1)
    on_line = ((rows + offset.to(x.device).long().view(-1, 1, 1, 1)) % spacing.clamp(min=1) == 0) & (spacing > 0)
    return torch.maximum(x, on_line.to(x.dtype) * ink.to(x.device, x.dtype).view(-1, 1, 1, 1))


def _stroke_width(u: torch.Tensor, pick: torch.Tensor) -> torch.Tensor:
    """A thickness amount from uniform draws u, pick [B]: half the time a whole morphological level
    (an erosion, one or two dilations: what a thinner or thicker pen draws), else a blend in [-1, 2].
    A uniform blend alone almost never reaches the two ends of the range."""
    levels = torch.tensor([-1.0, 1.0, 2.0], device=u.device, dtype=u.dtype)
    whole = levels[(u * 3).long().clamp(max=2)]
    return torch.where(pick < 0.5, whole, u * 3 - 1)


def wild(x: torch.Tensor, generator: torch.Generator, p: float = 0.5) -> torch.Tensor:
    """A random mix for training: each image gets each distortion with probability p (outlines and ruled
    paper p / 3), at a random strength up to about the benchmark's. Geometry first, then ink, the paper,
    then the scan's faults."""
    b = x.shape[0]
    u = _rand((b, 16), generator).to(x.device, x.dtype)
    on = u[:, :8] < p
    x = slant(x, torch.where(on[:, 0], (u[:, 8] * 2 - 1) * 0.4, 0))
    x = elastic(x, torch.where(on[:, 1], u[:, 9] * 2.5, 0), generator)
    x = thickness(x, torch.where(on[:, 2], _stroke_width(u[:, 10], u[:, 15]), 0))
    x = outline(x, u[:, 7] < p / 3)  # rarer than the others: it changes every stroke at once
    x = broken_strokes(x, torch.where(on[:, 3], (u[:, 11] * 3).floor() + 1, 0), generator)
    paper = _rand((b, 4), generator).to(x.device, x.dtype)
    spacing = torch.where(paper[:, 0] < p / 3, (paper[:, 1] * 6).floor() + 5, 0)  # 5-10 rows apart
    x = ruled_lines(x, spacing, (paper[:, 2] * 10).floor(), 0.2 + paper[:, 3] * 0.4)
    size = torch.where(on[:, 4], (u[:, 12] * 9).floor() + 8, x.shape[-1]).long()
    x = low_resolution(x, size)
    x = blur(x, torch.where(on[:, 5], u[:, 13] * 1.6, 0))
    return noise(x, torch.where(on[:, 6], u[:, 14] * 0.3, 0), generator)
