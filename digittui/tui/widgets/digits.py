"""Digits drawn with half blocks (digittui/halfblocks.py: 28x28 pixels in 28 columns x 14 rows at exact
grey levels). It works in any terminal, in snapshots and under textual-serve; NO_COLOR keeps the greys
(Textual's Monochrome filter)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Size
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from digittui.halfblocks import downsample, grey_levels, half_block_lines


def rescale(image: np.ndarray, zoom: float) -> np.ndarray:
    """Enlarge by a whole factor (each pixel repeated, so strokes stay crisp), or shrink: by a whole
    factor with a mean over each block, otherwise with a box filter to round(size * zoom) pixels."""
    if zoom >= 1:
        k = int(zoom)
        return np.repeat(np.repeat(image, k, axis=0), k, axis=1) if k > 1 else image
    if float(1 / zoom).is_integer():
        return downsample(image, int(1 / zoom))
    from PIL import Image  # only for odd sizes: wide numbers in a narrow space

    h, w = image.shape
    size = (max(1, round(w * zoom)), max(1, round(h * zoom)))
    return np.asarray(Image.fromarray(np.asarray(image, np.float32), mode="F").resize(size, Image.BOX))


def scaled_size(shape: tuple[int, int], zoom: float) -> tuple[int, int]:
    """(columns, rows) of an image of `shape` (h, w) drawn at `zoom`: two pixel rows to a cell."""
    h, w = shape
    if zoom >= 1:
        return w * int(zoom), math.ceil(h * int(zoom) / 2)
    if float(1 / zoom).is_integer():
        factor = int(1 / zoom)
        return math.ceil(w / factor), math.ceil(math.ceil(h / factor) / 2)
    return max(1, round(w * zoom)), math.ceil(max(1, round(h * zoom)) / 2)


def half_block_strips(image: np.ndarray, cursor: tuple[int, int] | None = None) -> list[Strip]:
    """float [H, W] in [0, 1] -> ceil(H / 2) strips of W cells. `cursor` (column, cell row) is drawn
    as a '+' over that cell, for the drawing canvas."""
    lines = half_block_lines(image)
    if cursor is not None and cursor[1] < len(lines):
        lower = int(grey_levels(image)[cursor[1] * 2 + 1, cursor[0]])
        lines[cursor[1]][cursor[0]] = Segment("+", Style(color="red", bgcolor=Color.from_rgb(lower, lower, lower),
                                                         bold=True))
    return [Strip(segments, len(segments)).simplify() for segments in lines]


MAX_ZOOM = 4


def fit_zoom(shape: tuple[int, int], width: int, height: int | None, max_zoom: int = MAX_ZOOM) -> float:
    """The largest whole zoom (up to `max_zoom`) at which an image of `shape` fits width x height
    cells; when even 1 is too big, the zoom that fits exactly (a number in a narrow space)."""
    for zoom in range(max_zoom, 0, -1):
        columns, rows = scaled_size(shape, zoom)
        if columns <= width and (height is None or rows <= height):
            return float(zoom)
    h, w = shape
    zoom = width / w
    if height is not None:
        zoom = min(zoom, 2 * height / h)
    return max(zoom, 1 / w)


class DigitImage(Widget):
    """One grey image at a whole `zoom` (the screen picks it for the room it has), shrunk to fit when
    wider than the widget's container."""

    DEFAULT_CSS = "DigitImage { width: auto; height: auto; }"

    def __init__(self, image: np.ndarray | None = None, zoom: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        self._image = np.zeros((28, 28), np.float32) if image is None else np.asarray(image, np.float32)
        self._zoom = zoom
        self._fitted = float(zoom)
        self._strips: list[Strip] = []
        self._strips_key: tuple | None = None

    @property
    def zoom(self) -> int:
        return self._zoom

    @zoom.setter
    def zoom(self, zoom: int) -> None:
        if zoom != self._zoom:
            self._zoom = zoom
            self.refresh(layout=True)

    def update(self, image: np.ndarray) -> None:
        self._image = np.asarray(image, np.float32)
        self._strips_key = None
        self.refresh(layout=True)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        self._fitted = float(self._zoom)  # `container` is the room inside this widget's border
        if scaled_size(self._image.shape, self._zoom)[0] > container.width:
            self._fitted = fit_zoom(self._image.shape, container.width, None, max_zoom=1)
        return scaled_size(self._image.shape, self._fitted)[0]

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return scaled_size(self._image.shape, self._fitted)[1]

    def render_line(self, y: int) -> Strip:
        if self._strips_key != (self._fitted,):
            self._strips = half_block_strips(rescale(self._image, self._fitted))
            self._strips_key = (self._fitted,)
        return self._strips[y] if y < len(self._strips) else Strip.blank(self.content_size.width)


class DigitGrid(Widget):
    """Many same-sized images in rows that fill the widget's width, each with an optional caption.

    `zoom` fixes the size (0.5: a digit in 14 columns x 7 rows). None fits it to the space: the
    largest whole zoom at which `min_columns` images (one, if they are wider than tall: numbers) fit
    side by side and a row fits the visible height of the container; else half size for digits, if
    that fits them; else one image a row, shrunk to fit. `columns` fixes the row length.
    """

    DEFAULT_CSS = "DigitGrid { width: 1fr; height: auto; }"

    class Clicked(Message):
        """An image (or its caption) was clicked: `index` counts the images as shown, left to right,
        then down."""

        def __init__(self, grid: "DigitGrid", index: int) -> None:
            super().__init__()
            self.grid = grid
            self.index = index

        @property
        def control(self) -> "DigitGrid":
            return self.grid

    def __init__(self, zoom: float | None = 1.0, gap: int = 1, min_columns: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        self.zoom = zoom
        self.gap = gap
        self.min_columns = min_columns
        self._images: list[np.ndarray] = []
        self._captions: list[str] = []
        self._columns: int | None = None
        self._lines: list[Strip] = []
        self._lines_key: tuple | None = None

    def update(self, images: Sequence[np.ndarray] | np.ndarray, captions: Sequence[str] | None = None,
               columns: int | None = None) -> None:
        self._images = [np.asarray(im, np.float32) for im in images]
        self._captions = list(captions or [])
        self._columns = columns
        self._lines_key = None
        self.refresh(layout=True)

    def _visible_height(self) -> int | None:
        """Rows of the container that show this grid (a scrolling view), if any."""
        parent = self.parent
        return parent.scrollable_content_region.height if isinstance(parent, Widget) and parent.is_scrollable \
            else None

    def _per_row(self, zoom: float, width: int) -> int:
        cell = scaled_size(self._images[0].shape, zoom)[0]
        return max(0, (width + self.gap) // (cell + self.gap))

    def _fit(self, width: int) -> float:
        shape = self._images[0].shape
        wide = shape[1] > 2 * shape[0]
        wanted = 1 if wide else min(self._columns or self.min_columns, len(self._images))
        caption = 1 if self._captions else 0
        height = self._visible_height()  # unknown (None, or 0 before the first layout): no enlarging
        for zoom in range(MAX_ZOOM if height else 1, 0, -1):
            tall = scaled_size(shape, zoom)[1] + caption
            if self._per_row(zoom, width) >= wanted and (zoom == 1 or tall <= height):
                return float(zoom)
        if not wide and self._per_row(0.5, width) >= wanted:
            return 0.5  # 14 columns still read as a digit
        return min(1.0, max(width, 1) / shape[1])

    def _layout(self, width: int) -> tuple[float, int]:
        """(zoom, images per row) for this width."""
        if not self._images:
            return 1.0, 1
        zoom = self.zoom or self._fit(width)
        fits = max(1, self._per_row(zoom, width))
        return zoom, min(fits, self._columns or fits)

    def index_at(self, x: int, y: int) -> int | None:
        """The image under the content cell (x, y), its caption included; None over a gap."""
        if not self._images:
            return None
        zoom, columns = self._layout(self.content_size.width)
        width, height = scaled_size(self._images[0].shape, zoom)
        column, within = divmod(x, width + self.gap)
        if within >= width or column >= columns or x < 0 or y < 0:
            return None
        index = y // (height + (1 if self._captions else 0)) * columns + column
        return index if index < len(self._images) else None

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        index = self.index_at(offset.x, offset.y) if offset is not None else None
        if index is not None:
            self.post_message(self.Clicked(self, index))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if not self._images:
            return 1
        zoom, columns = self._layout(width)
        per_row = scaled_size(self._images[0].shape, zoom)[1] + (1 if self._captions else 0)
        return math.ceil(len(self._images) / columns) * per_row

    def _build(self, width: int) -> list[Strip]:
        if not self._images:
            return []
        style = self.rich_style
        zoom, columns = self._layout(width)
        cell = scaled_size(self._images[0].shape, zoom)[0]
        gap = Segment(" " * self.gap, style)
        lines: list[Strip] = []
        for start in range(0, len(self._images), columns):
            row_images = [half_block_strips(rescale(im, zoom)) for im in self._images[start:start + columns]]
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
        key = (width, self._layout(width)[0]) if self._images else (width,)
        if self._lines_key != key:
            self._lines = self._build(width)
            self._lines_key = key
        line = self._lines[y] if y < len(self._lines) else Strip.blank(width, self.rich_style)
        return line.extend_cell_length(width, self.rich_style).crop(0, width)
