"""Digits drawn with half blocks: '▀' with the upper pixel as foreground and the lower pixel as
background, so a 28x28 image takes 28 columns x 14 rows at exact grey levels. It works in any
terminal, in snapshots and under textual-serve; NO_COLOR keeps the greys (Textual's Monochrome filter)."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

UPPER_HALF = "▀"


@lru_cache(maxsize=8192)
def _grey_style(upper: int, lower: int) -> Style:
    return Style(color=Color.from_rgb(upper, upper, upper), bgcolor=Color.from_rgb(lower, lower, lower))


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Mean-pool by an integer factor (the image is zero-padded to a multiple of it)."""
    if factor <= 1:
        return image
    h, w = image.shape
    ph, pw = -h % factor, -w % factor
    padded = np.pad(image, ((0, ph), (0, pw)))
    return padded.reshape((h + ph) // factor, factor, (w + pw) // factor, factor).mean(axis=(1, 3))


def half_block_strips(image: np.ndarray, cursor: tuple[int, int] | None = None) -> list[Strip]:
    """float [H, W] in [0, 1] -> ceil(H / 2) strips of W cells. `cursor` (column, cell row) is drawn
    as a '+' over that cell, for the drawing canvas."""
    a = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float32)), 0.0, 1.0)
    if a.shape[0] % 2:
        a = np.vstack([a, np.zeros((1, a.shape[1]), dtype=np.float32)])
    grey = (a * 255 + 0.5).astype(np.uint8)
    strips = []
    for row in range(0, grey.shape[0], 2):
        segments = [Segment(UPPER_HALF, _grey_style(u, l))
                    for u, l in zip(grey[row].tolist(), grey[row + 1].tolist())]
        if cursor is not None and cursor[1] == row // 2:
            lower = int(grey[row + 1, cursor[0]])
            segments[cursor[0]] = Segment("+", Style(color="red", bgcolor=Color.from_rgb(lower, lower, lower),
                                                     bold=True))
        strips.append(Strip(segments, a.shape[1]).simplify())
    return strips


class DigitImage(Widget):
    """One grey image (a digit, or a wide number), shrunk by whole factors when wider than the widget."""

    DEFAULT_CSS = "DigitImage { width: auto; height: auto; }"

    def __init__(self, image: np.ndarray | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self._image = np.zeros((28, 28), np.float32) if image is None else np.asarray(image, np.float32)
        self._strips: list[Strip] = []
        self._strips_key: tuple | None = None

    def update(self, image: np.ndarray) -> None:
        self._image = np.asarray(image, np.float32)
        self._strips_key = None
        self.refresh(layout=True)

    def _factor(self, width: int) -> int:
        return max(1, math.ceil(self._image.shape[1] / max(width, 1)))

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return math.ceil(self._image.shape[1] / self._factor(container.width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return math.ceil(math.ceil(self._image.shape[0] / self._factor(width)) / 2)

    def render_line(self, y: int) -> Strip:
        factor = self._factor(self.content_size.width)
        if self._strips_key != (factor,):
            self._strips = half_block_strips(downsample(self._image, factor))
            self._strips_key = (factor,)
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.content_size.width)


class DigitGrid(Widget):
    """Many same-sized images in rows that fill the widget's width, each with an optional caption.

    `scale` shrinks each image by that factor (2: 14 columns x 7 rows for a digit); None picks the
    smallest factor at which `min_columns` images fit side by side. `columns` fixes the row length.
    """

    DEFAULT_CSS = "DigitGrid { width: 1fr; height: auto; }"

    def __init__(self, scale: int | None = 1, gap: int = 1, min_columns: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scale = scale
        self.gap = gap
        self.min_columns = min_columns
        self._images: list[np.ndarray] = []
        self._captions: list[str] = []
        self._columns: int | None = None
        self._lines: list[Strip] = []
        self._lines_width = -1

    def update(self, images: Sequence[np.ndarray] | np.ndarray, captions: Sequence[str] | None = None,
               columns: int | None = None) -> None:
        self._images = [np.asarray(im, np.float32) for im in images]
        self._captions = list(captions or [])
        self._columns = columns
        self._lines_width = -1
        self.refresh(layout=True)

    def _layout(self, width: int) -> tuple[int, int]:
        """(shrink factor, images per row) for this width."""
        if not self._images:
            return 1, 1
        image_width = self._images[0].shape[1]
        wanted = min(self._columns or self.min_columns, len(self._images))
        for factor in ([self.scale] if self.scale else range(1, 5)):
            cell = math.ceil(image_width / factor)
            fits = max(1, (width + self.gap) // (cell + self.gap))
            if fits >= wanted or factor == 4:
                break
        return factor, min(fits, self._columns or fits)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self._images:
            return 1
        factor, columns = self._layout(width)
        per_row = math.ceil(math.ceil(self._images[0].shape[0] / factor) / 2) + (1 if self._captions else 0)
        return math.ceil(len(self._images) / columns) * per_row

    def _build(self, width: int) -> list[Strip]:
        if not self._images:
            return []
        style = self.rich_style
        factor, columns = self._layout(width)
        cell = math.ceil(self._images[0].shape[1] / factor)
        gap = Segment(" " * self.gap, style)
        lines: list[Strip] = []
        for start in range(0, len(self._images), columns):
            row_images = [half_block_strips(downsample(im, factor)) for im in self._images[start:start + columns]]
            for y in range(len(row_images[0])):
                segments: list[Segment] = []
                for i, strips in enumerate(row_images):
                    if i:
                        segments.append(gap)
                    segments.extend(strips[y])
                lines.append(Strip(segments))
            if self._captions:
                text = [self._captions[i][:cell].center(cell) if i < len(self._captions) else " " * cell
                        for i in range(start, min(start + columns, len(self._images)))]
                lines.append(Strip([Segment((" " * self.gap).join(text), style)]))
        return lines

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        if self._lines_width != width:
            self._lines = self._build(width)
            self._lines_width = width
        line = self._lines[y] if y < len(self._lines) else Strip.blank(width, self.rich_style)
        return line.extend_cell_length(width, self.rich_style).crop(0, width)
