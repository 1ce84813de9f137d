"""Grey images drawn with half blocks, as rich Segments: '▀' with the upper pixel as foreground and
the lower pixel as background, so a 28x28 image takes 28 columns x 14 rows at exact grey levels.

The one renderer behind the TUI's digit widgets and the CLI's terminal preview; no Textual here."""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
from rich.color import Color
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

UPPER_HALF = "▀"


@lru_cache(maxsize=8192)
def grey_style(upper: int, lower: int) -> Style:
    return Style(color=Color.from_rgb(upper, upper, upper), bgcolor=Color.from_rgb(lower, lower, lower))


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean-pool by an integer factor (the image is zero-padded to a multiple of it)."""
    if factor <= 1:
        return image
    h, w = image.shape
    ph, pw = -h % factor, -w % factor
    padded = np.pad(image, ((0, ph), (0, pw)))
    return padded.reshape((h + ph) // factor, factor, (w + pw) // factor, factor).mean(axis=(1, 3))


def grey_levels(image: np.ndarray) -> np.ndarray:
    """float [H, W] in [0, 1] (NaN and out-of-range values clipped) -> uint8 [H rounded up to even, W]."""
    a = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float32)), 0.0, 1.0)
    if a.shape[0] % 2:
        a = np.vstack([a, np.zeros((1, a.shape[1]), dtype=np.float32)])
    return (a * 255 + 0.5).astype(np.uint8)


def half_block_lines(image: np.ndarray) -> list[list[Segment]]:
    """float [H, W] in [0, 1] -> ceil(H / 2) lines of W one-cell segments."""
    grey = grey_levels(image)
    return [[Segment(UPPER_HALF, grey_style(u, l)) for u, l in zip(grey[row].tolist(), grey[row + 1].tolist())]
            for row in range(0, grey.shape[0], 2)]


class ImageRow:
    """Same-sized images side by side, each with an optional caption centred under it: a rich
    renderable, for printing to a terminal."""

    def __init__(self, images: Sequence[np.ndarray], captions: Sequence[str] = (), gap: int = 1) -> None:
        self.lines = [half_block_lines(image) for image in images]
        self.captions = list(captions)
        self.gap = gap

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if not self.lines:
            return
        width = len(self.lines[0][0])
        for y in range(len(self.lines[0])):
            for i, lines in enumerate(self.lines):
                if i:
                    yield Segment(" " * self.gap)
                yield from lines[y]
            yield Segment.line()
        if self.captions:
            yield Segment((" " * self.gap).join(c[:width].center(width) for c in self.captions))
            yield Segment.line()
