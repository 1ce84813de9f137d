"""Classify screen: browse the test set with the CNN's verdicts, study its confusion matrix, and
draw a digit or a number (or open an image file) for a live reading, with a box on each digit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState

from digittui.tui.jobs import user_message
from digittui.tui.screens.base import DigitScreen
from digittui.tui.screens.dialogs import PromptScreen
from digittui.tui.screens.open_image import OpenImageScreen
from digittui.tui.widgets import DigitImage, DrawCanvas, ProbabilityBars

PAGE = 100  # images skipped by page up / page down
# The test image is drawn twice as large when the screen has this room: 56x28 cells and its border,
# the two info lines, header, tabs and footer; probability bars at least 40 wide beside it.
DOUBLE_SIZE = (2 * 28 + 4 + 40, 2 * 14 + 2 + 2 + 5)
DRAW_HINT = "Draw a digit or a number: drag the mouse, or arrows + space (pen up/down)."


@dataclass
class Drawing:
    """The canvas (or a file) read by the CNN: the digits found, each with its verdict and box."""

    image: np.ndarray | None  # a file's cleaned image fitted to the canvas; None for the canvas itself
    reading: object | None  # digittui.classify.Reading; None when there is nothing to read
    message: str
    path: str | None = None  # set when the image came from a file
    boxes: list = field(default_factory=list)  # the digits' boxes in canvas pixels


def fit_to_canvas(image: np.ndarray, boxes: list, height: int, width: int) -> tuple[np.ndarray, list]:
    """An image scaled (keeping its aspect) into a height x width canvas at its top left, and its
    boxes scaled with it, for display."""
    from PIL import Image

    scale = min(height / image.shape[0], width / image.shape[1])
    h, w = max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))
    small = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR)
    out = np.zeros((height, width), np.float32)
    out[:h, :w] = np.asarray(small, np.float32) / 255
    scaled = [(int(x0 * scale), int(y0 * scale), max(int(x0 * scale) + 1, round(x1 * scale)),
               max(int(y0 * scale) + 1, round(y1 * scale))) for x0, y0, x1, y1 in boxes]
    return out, scaled


def describe_reading(reading) -> str:
    """The verdict lines: 'Predicted 7 (99.1%)', 'Predicted: not sure: 4 (61.0%) or 9 (37.5%)',
    'Predicted: not a digit', or for several digits 'Read 2026' and each digit's confidence
    ('?' after a digit it is not sure of, '?' alone where there is no digit)."""
    from digittui.classify import Verdict

    if not reading.digits:
        return "Predicted: not a digit (blank)"
    if len(reading.digits) == 1:
        prediction = reading.digits[0].prediction
        if prediction.verdict is Verdict.DIGIT:
            return f"Predicted {prediction.digit} ({prediction.confidence:.1%})"
        return f"Predicted: {prediction.describe()}"
    parts = ["?" if d.prediction.verdict is Verdict.NOT_A_DIGIT else
             f"{d.prediction.digit} {d.prediction.confidence:.0%}" + ("?" if d.prediction.verdict is Verdict.NOT_SURE else "")
             for d in reading.digits]
    return f"Read {reading.number}\n" + " · ".join(parts)


@dataclass
class Verdicts:
    """The test set as numpy arrays, with the CNN's probabilities when a CNN is loaded."""

    images: np.ndarray  # uint8 [N, 28, 28]
    labels: np.ndarray  # int [N]
    probs: np.ndarray | None  # float [N, outputs]
    predicted: np.ndarray | None  # int [N], the most probable of the 10 digits

    def confusion(self) -> np.ndarray:
        matrix = np.zeros((10, 10), dtype=int)
        np.add.at(matrix, (self.labels, self.predicted), 1)
        return matrix


def compute_verdicts(models, digits) -> Verdicts:
    """Thread worker body: one pass of the CNN over the whole test set."""
    probs = predicted = None
    if models is not None and models.cnn is not None:
        from digittui.evaluate import cnn_predictions

        model = models.cnn.model
        probs = cnn_predictions(model, digits.to(models.device)).numpy()
        predicted = probs[:, :model.config.num_classes].argmax(1)
    return Verdicts(digits.images.numpy(), digits.labels.numpy(), probs, predicted)


class TestSetBrowser(Vertical, can_focus=True):
    """One test image at a time, with the arrows and page keys; optionally only some images."""

    BINDINGS = [
        Binding("left", "step(-1)", "Previous"),
        Binding("right", "step(1)", "Next"),
        Binding("pageup", f"step(-{PAGE})", f"-{PAGE}", show=False),
        Binding("pagedown", f"step({PAGE})", f"+{PAGE}", show=False),
        Binding("home", "step(-1000000)", "First", show=False),
        Binding("end", "step(1000000)", "Last", show=False),
        Binding("j", "jump", "Jump to #"),
        Binding("m", "toggle_misclassified", "Misclassified"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.verdicts: Verdicts | None = None
        self.shown = np.zeros(0, dtype=int)  # test-set indices passing the filter
        self.position = 0  # into `shown`
        self.filter: tuple[int, int] | str = "all"  # "all", "misclassified" or (true, predicted)

    def compose(self) -> ComposeResult:
        with Horizontal():
            with Vertical(id="browse-left"):
                yield DigitImage(id="browse-image")
                yield Static("", id="browse-info")
            with Vertical(id="browse-right"):
                yield Static("", id="browse-verdict")
                yield ProbabilityBars(id="browse-bars")
                yield Static("", id="browse-filter", classes="hint")

    def set_verdicts(self, verdicts: Verdicts) -> None:
        current = self.current
        self.verdicts = verdicts
        self.set_filter(self.filter, keep=current)

    @property
    def current(self) -> int | None:
        return int(self.shown[self.position]) if len(self.shown) else None

    def set_filter(self, which: tuple[int, int] | str, keep: int | None = None) -> None:
        v = self.verdicts
        if v is None:
            return
        if v.predicted is None:
            which = "all"
        if which == "misclassified":
            self.shown = np.flatnonzero(v.labels != v.predicted)
        elif isinstance(which, tuple):
            self.shown = np.flatnonzero((v.labels == which[0]) & (v.predicted == which[1]))
        else:
            self.shown = np.arange(len(v.labels))
        self.filter = which
        self.position = int(np.searchsorted(self.shown, keep)) if keep is not None and len(self.shown) else 0
        self.position = min(self.position, max(len(self.shown) - 1, 0))
        self.show()

    def show(self) -> None:
        v, index = self.verdicts, self.current
        total = len(v.labels) if v is not None else 0
        description = {"all": "all test images", "misclassified": "misclassified only"}.get(
            self.filter if isinstance(self.filter, str) else "",
            f"true {self.filter[0]}, predicted {self.filter[1]}" if isinstance(self.filter, tuple) else "")
        self.query_one("#browse-filter", Static).update(
            f"Showing {len(self.shown):,} of {total:,}: {description}\n"
            "←/→ browse · PgUp/PgDn ±100 · j jump · m misclassified")
        if index is None:
            self.query_one("#browse-image", DigitImage).update(np.zeros((28, 28)))
            self.query_one("#browse-info", Static).update("No image matches this filter.")
            self.query_one("#browse-verdict", Static).update("")
            self.query_one("#browse-bars", ProbabilityBars).clear()
            return
        label = int(v.labels[index])
        self.query_one("#browse-image", DigitImage).update(v.images[index] / 255.0)
        self.query_one("#browse-info", Static).update(
            f"Test image #{index:,}\n{self.position + 1:,} of {len(self.shown):,} shown")
        bars = self.query_one("#browse-bars", ProbabilityBars)
        verdict = self.query_one("#browse-verdict", Static)
        if v.probs is None:
            verdict.update(f"True label {label} · no CNN loaded")
            bars.clear()
            return
        predicted, p = int(v.predicted[index]), float(v.probs[index, v.predicted[index]])
        mark = "correct" if predicted == label else "WRONG"
        verdict.update(f"True {label} · predicted {predicted} ({p:.1%}) · {mark}")
        bars.update(v.probs[index], true=label)

    def action_step(self, delta: int) -> None:
        if len(self.shown):
            self.position = min(max(self.position + delta, 0), len(self.shown) - 1)
            self.show()

    def action_jump(self) -> None:
        def jump(text: str | None) -> None:
            if text is None or self.verdicts is None:
                return
            if not text.isdigit() or int(text) >= len(self.verdicts.labels):
                self.notify(f"Give a test image number from 0 to {len(self.verdicts.labels) - 1}",
                            severity="error")
                return
            self.set_filter("all", keep=int(text))

        self.app.push_screen(PromptScreen("Jump to test image number", "0-9999"), jump)

    def action_toggle_misclassified(self) -> None:
        if self.verdicts is not None and self.verdicts.predicted is None:
            self.notify("No CNN loaded: nothing is classified", severity="warning")
        self.set_filter("all" if self.filter == "misclassified" else "misclassified", keep=self.current)


class ClassifyScreen(DigitScreen):
    # In the order the footer shows them while space lasts: the test set is already on show.
    BINDINGS = [
        Binding("d", "tab('draw')", "Draw", tooltip="Draw a digit"),
        Binding("o", "open_file", "Open", tooltip="Open an image file of a digit"),
        Binding("x", "tab('confusion')", "Confusion"),
        Binding("b", "tab('browse')", "Browse", tooltip="Browse the test set"),
    ]

    def compose_body(self) -> ComposeResult:
        with TabbedContent(id="classify-tabs"):
            with TabPane("Test set", id="browse"):
                yield Static("Loading the test set…", id="browse-message", classes="message", markup=False)
                yield TestSetBrowser(id="browser")
            with TabPane("Draw", id="draw"):
                with Horizontal():
                    yield DrawCanvas(id="canvas")
                    with Vertical(id="draw-right"):
                        yield Static(DRAW_HINT, id="draw-verdict", markup=False)  # shows file paths
                        yield ProbabilityBars(id="draw-bars")
                        yield Static("[ ] brush size · Del clear · o open an image file", classes="hint")
            with TabPane("Confusion", id="confusion"):
                yield Static("Rows: true digit · columns: predicted. Enter on a cell lists its images.",
                             classes="hint")
                yield DataTable(id="confusion-table", zebra_stripes=True)

    def on_resize(self, event) -> None:
        zoom = 2 if event.size.width >= DOUBLE_SIZE[0] and event.size.height >= DOUBLE_SIZE[1] else 1
        self.query_one("#browse-image", DigitImage).zoom = zoom
        self.query_one("#browse-left").styles.width = 28 * zoom + 4  # the image, its border, padding

    def on_mount(self) -> None:
        self.query_one("#browser").display = False
        self.app.models_changed.subscribe(self, lambda _: self._update_verdicts())
        self.app.test_set_changed.subscribe(self, lambda _: self._update_verdicts())
        self._update_verdicts()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self._focus_tab(tab)

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self._focus_tab(event.pane.id)

    def _focus_tab(self, tab: str) -> None:
        target = self.query_one({"browse": "#browser", "draw": "#canvas", "confusion": "#confusion-table"}[tab])
        if target.display:  # the browser is hidden until the test set is classified
            target.focus()

    # The test set ------------------------------------------------------------------------------

    def _update_verdicts(self) -> None:
        app = self.app
        message = self.query_one("#browse-message", Static)
        if app.test_set_error:
            message.update(f"No MNIST test set.\n\n{app.test_set_error}\n\n"
                           "Drawing a digit and opening image files still work (press d or o).")
            return
        if app.test_set is None:
            return
        message.update("Classifying the test set…")
        self._verdicts_worker(app.models, app.test_set)

    @work(thread=True, group="verdicts", exclusive=True, exit_on_error=False)
    def _verdicts_worker(self, models, digits) -> Verdicts:
        return compute_verdicts(models, digits)

    def _show_verdicts(self, verdicts: Verdicts) -> None:
        self.query_one("#browse-message").display = False
        browser = self.query_one(TestSetBrowser)
        browser.display = True
        browser.set_verdicts(verdicts)
        if self.query_one(TabbedContent).active == "browse" and self.is_current:
            browser.focus()
        table = self.query_one("#confusion-table", DataTable)
        table.clear(columns=True)
        if verdicts.predicted is None:
            return
        table.add_columns("true\\pred", *(str(d) for d in range(10)), "acc")
        matrix = verdicts.confusion()
        for digit, row in enumerate(matrix):
            accuracy = row[digit] / max(row.sum(), 1)
            table.add_row(str(digit), *(f"{n:,}" if n else "·" for n in row), f"{accuracy:.1%}")
        total = np.trace(matrix) / max(matrix.sum(), 1)
        table.add_row("all", *(f"{n:,}" for n in matrix.sum(0)), f"{total:.2%}")

    def on_data_table_cell_selected(self, event: DataTable.CellSelected) -> None:
        true, predicted = event.coordinate.row, event.coordinate.column - 1
        if 0 <= true < 10 and 0 <= predicted < 10:
            self.query_one(TestSetBrowser).set_filter((true, predicted))
            self.action_tab("browse")

    # Drawing and files -------------------------------------------------------------------------

    def on_draw_canvas_changed(self, event: DrawCanvas.Changed) -> None:
        self._classify_drawing(event.pixels, None)

    @work(thread=True, group="drawing", exclusive=True, exit_on_error=False)
    def _classify_drawing(self, pixels: np.ndarray | None, path: str | None) -> Drawing:
        """Read the canvas, or the file at `path` (its ImageError is shown as an error): cleaned,
        cut into digits, each made MNIST-like and classified with the calibrated confidence."""
        from digittui.preprocess import clean, load_image
        from digittui.tui.widgets.canvas import HEIGHT, WIDTH

        if path is None and not pixels.any():
            return Drawing(None, None, DRAW_HINT)
        cleaned = clean(load_image(path)) if path else pixels
        models = self.app.models
        if models is None or models.cnn is None:
            shown = fit_to_canvas(cleaned, [], HEIGHT, WIDTH)[0] if path else None
            return Drawing(shown, None, "No CNN loaded: train one (t) to classify.", path)
        from digittui.calibration import Calibration
        from digittui.classify import read

        reading = read(models.cnn.model, cleaned, Calibration.from_dict(models.cnn.calibration))
        boxes = [d.box for d in reading.digits]
        if not path:
            return Drawing(None, reading, "", None, boxes)
        shown, boxes = fit_to_canvas(cleaned, boxes, HEIGHT, WIDTH)
        return Drawing(shown, reading, f"from {path}", path, boxes)

    def _show_drawing(self, drawing: Drawing) -> None:
        canvas = self.query_one(DrawCanvas)
        if drawing.path and drawing.image is not None:
            canvas.set_pixels(drawing.image)  # to edit further
        canvas.show_boxes(drawing.boxes)
        verdict = self.query_one("#draw-verdict", Static)
        bars = self.query_one("#draw-bars", ProbabilityBars)
        if drawing.reading is None:
            verdict.update(escape(drawing.message))
            bars.clear()
            return
        message = f"\n{drawing.message}" if drawing.message else ""
        verdict.update(escape(describe_reading(drawing.reading) + message))
        digits = drawing.reading.digits
        if len(digits) == 1:
            bars.update(digits[0].prediction.probs)
        else:
            bars.clear()

    def action_open_file(self) -> None:
        def opened(path: str | None) -> None:
            if path:
                self.action_tab("draw")
                self._classify_drawing(None, path)

        self.app.push_screen(OpenImageScreen("Open an image of a digit or a number (PNG, JPEG, …): type "
                                             "its path, or pick it in the tree"), opened)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "verdicts" and event.state == WorkerState.SUCCESS:
            self._show_verdicts(worker.result)
        elif worker.group == "drawing" and event.state == WorkerState.SUCCESS:
            self._show_drawing(worker.result)
        elif event.state == WorkerState.ERROR and worker.group in ("verdicts", "drawing"):
            message = user_message(worker.error)
            line = "#draw-verdict" if worker.group == "drawing" else "#browse-message"
            self.query_one(line, Static).update(message)  # stays after the toast is gone
            self.notify(message, title="Classify", severity="error", timeout=8, markup=False)
