"""A drawing canvas 28 pixels tall and wide enough for a number: drag with the mouse, or move a
cursor with the arrows and paint with space. Boxes (the digits found in it) are drawn as grey
outlines over the ink, for display only."""

from __future__ import annotations

import numpy as np
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from digittui.tui.widgets.digits import half_block_strips

HEIGHT, WIDTH = 28, 56  # pixels: a digit's height, room for a few digits side by side
BOX_GREY = 0.45  # box outlines, dimmer than ink
BRUSHES = (0.5, 1.0, 1.5, 2.0, 3.0)  # radii in pixels


def stroke_ink(pixels: np.ndarray, radius: float, start: tuple[int, int], end: tuple[int, int]) -> None:
    """Soft discs of `radius` along the stroke between two (column, cell row) cells, each centred between
    its cell's two pixel rows, so that a fast drag that skips cells still leaves a continuous line.
    Adds to `pixels` [HEIGHT, WIDTH] in place."""
    ys, xs = np.mgrid[0:pixels.shape[0], 0:pixels.shape[1]]
    (x0, r0), (x1, r1) = start, end
    steps = max(abs(x1 - x0), abs(r1 - r0) * 2, 1)
    for t in np.linspace(0.0, 1.0, steps + 1):
        cx, cy = x0 + (x1 - x0) * t, 2 * (r0 + (r1 - r0) * t) + 0.5
        ink = np.clip(radius + 0.5 - np.hypot(ys - cy, xs - cx), 0.0, 1.0)
        np.maximum(pixels, ink.astype(np.float32), out=pixels)


class DrawCanvas(Widget, can_focus=True):
    """Each cell shows two pixels stacked (half blocks), so pixels are square on screen.

    A pen stroke paints a soft disc; `Changed` is posted after each stroke step with a copy of the
    pixels, ink light on dark like MNIST.
    """

    DEFAULT_CSS = "DrawCanvas { width: 58; height: 16; border: round $primary; }"
    ALLOW_SELECT = False  # a drag draws; it must not also select the text of the panel beside

    BINDINGS = [
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        Binding("space", "toggle_pen", "Pen up/down"),
        Binding("backspace,delete", "clear", "Clear"),
        Binding("left_square_bracket", "brush(-1)", "Thinner"),
        Binding("right_square_bracket", "brush(1)", "Thicker"),
    ]

    brush: reactive[int] = reactive(2)
    pen_down: reactive[bool] = reactive(False)

    class Changed(Message):
        def __init__(self, canvas: "DrawCanvas", pixels: np.ndarray) -> None:
            super().__init__()
            self.canvas = canvas
            self.pixels = pixels

        @property
        def control(self) -> "DrawCanvas":
            return self.canvas

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.pixels = np.zeros((HEIGHT, WIDTH), np.float32)
        self.boxes: list[tuple[int, int, int, int]] = []  # (x0, y0, x1, y1) in pixels, end exclusive
        self.cursor = (HEIGHT // 2, HEIGHT // 4)  # (column, cell row): a cell holds pixel rows 2r, 2r+1
        self._dragging = False

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return WIDTH

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return HEIGHT // 2

    def render_line(self, y: int) -> Strip:
        cursor = self.cursor if self.has_focus else None
        strips = half_block_strips(self._shown(), cursor)
        return strips[y] if y < len(strips) else Strip.blank(self.content_size.width)

    def _shown(self) -> np.ndarray:
        """The pixels with the box outlines drawn where there is no ink."""
        if not self.boxes:
            return self.pixels
        outline = np.zeros_like(self.pixels, dtype=bool)
        for x0, y0, x1, y1 in self.boxes:
            x0, y0 = max(x0 - 1, 0), max(y0 - 1, 0)
            x1, y1 = min(x1, WIDTH - 1), min(y1, HEIGHT - 1)
            outline[y0:y1 + 1, [x0, x1]] = True
            outline[[y0, y1], x0:x1 + 1] = True
        return np.where(outline, np.maximum(self.pixels, BOX_GREY), self.pixels)

    def show_boxes(self, boxes) -> None:
        self.boxes = [tuple(int(v) for v in box) for box in boxes]
        self.refresh()

    @property
    def is_blank(self) -> bool:
        return not self.pixels.any()

    def set_pixels(self, pixels: np.ndarray) -> None:
        """Show an image (e.g. one opened from a file and already classified) to edit further;
        posts no Changed message."""
        self.pixels = np.clip(np.asarray(pixels, np.float32), 0, 1).copy()
        self.boxes = []
        self.refresh()

    def paint(self, column: int, cell_row: int, start: tuple[int, int] | None = None) -> None:
        """Ink the stroke from `start` (or a dot) to this cell (stroke_ink)."""
        self.boxes = []  # they belong to the reading before this stroke
        stroke_ink(self.pixels, BRUSHES[self.brush], start or (column, cell_row), (column, cell_row))
        self.refresh()
        self._changed()

    def _changed(self) -> None:
        self.post_message(self.Changed(self, self.pixels.copy()))

    def action_move(self, dx: int, dy: int) -> None:
        column, row = previous = self.cursor
        self.cursor = (min(max(column + dx, 0), WIDTH - 1), min(max(row + dy, 0), HEIGHT // 2 - 1))
        if self.pen_down:
            self.paint(*self.cursor, start=previous)
        self.refresh()

    def action_toggle_pen(self) -> None:
        self.pen_down = not self.pen_down
        if self.pen_down:
            self.paint(*self.cursor)

    def action_clear(self) -> None:
        self.pixels[:] = 0
        self.boxes = []
        self.pen_down = False
        self.refresh()
        self._changed()

    def action_brush(self, step: int) -> None:
        self.brush = min(max(self.brush + step, 0), len(BRUSHES) - 1)
        self.notify(f"brush radius {BRUSHES[self.brush]:g} px", timeout=1.5)

    def _cell(self, event: events.MouseEvent) -> tuple[int, int] | None:
        x, y = event.x - self.gutter.left, event.y - self.gutter.top
        if 0 <= x < WIDTH and 0 <= y < HEIGHT // 2:
            return x, y
        return None

    def on_mouse_down(self, event: events.MouseDown) -> None:
        cell = self._cell(event)
        if cell is not None:
            self._dragging = True
            self.capture_mouse()
            self.cursor = cell
            self.paint(*cell)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._dragging:
            cell = self._cell(event)
            if cell is not None and cell != self.cursor:
                previous, self.cursor = self.cursor, cell
                self.paint(*cell, start=previous)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._dragging:
            self._dragging = False
            self.release_mouse()
