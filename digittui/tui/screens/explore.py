"""Explore screen: the VAE's latent space. Test digits encoded and projected on their two principal
axes (marked by their digit, so the map reads without colour), and beside it images decoded over a
window of that plane, moved with the arrows; also random samples from the prior and morphs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Static
from textual.worker import Worker, WorkerState
from textual_plotext import PlotextPlot

from digittui.tui.jobs import user_message
from digittui.tui.screens.base import DigitScreen
from digittui.tui.screens.dialogs import PromptScreen
from digittui.tui.widgets import DigitGrid

MAP_POINTS = 1000  # plotext redraws every point on each refresh: ~25 ms per 1,000
CELL_COLUMNS, CELL_ROWS = 15, 7  # a half-size digit and its gap
# plotext colour names per digit; the markers (the digit itself) carry the label without colour
COLOURS = ("red", "green", "yellow", "blue", "magenta", "cyan", "orange", "white", "gray", "red+")


@dataclass
class View:
    """Where the decoded window sits on the map: its centre in map coordinates and its half-width."""

    x: float = 0.0
    y: float = 0.0
    extent: float = 1.5


class ExploreScreen(DigitScreen):
    BINDINGS = [
        Binding("left", "pan(-1, 0)", "Pan", key_display="←↑↓→"),
        Binding("right", "pan(1, 0)", "Pan", show=False),
        Binding("up", "pan(0, 1)", "Pan", show=False),
        Binding("down", "pan(0, -1)", "Pan", show=False),
        Binding("plus,equals_sign", "zoom(0.7)", "Zoom in", key_display="+"),
        Binding("minus", "zoom(1.4)", "Zoom out", key_display="-"),
        Binding("r", "random", "Random samples"),
        Binding("m", "morph", "Morph a→b"),
        Binding("p", "plane", "Plane"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.map = None  # digittui.latent.LatentMap
        self.view = View()
        self.showing = "plane"  # "plane" | "random" | "morph"
        self.seed = 0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="explore-body"):
            yield PlotextPlot(id="latent-map")
            with Vertical(id="explore-right"):
                yield Static("Waiting for the VAE and the test set…", id="explore-status", markup=False)
                yield DigitGrid(zoom=0.5, id="explore-grid")

    def on_mount(self) -> None:
        self.app.models_changed.subscribe(self, lambda _: self._encode())
        self.app.test_set_changed.subscribe(self, lambda _: self._encode())
        self._encode()

    def on_resize(self) -> None:
        if self.map is not None and self.showing == "plane":
            self._decode_plane()

    # The map -----------------------------------------------------------------------------------

    def _encode(self) -> None:
        app = self.app
        status = self.query_one("#explore-status", Static)
        if app.models is not None and app.models.vae is None:
            status.update("No VAE loaded: train one on the Train screen (t).")
        elif app.test_set_error:
            status.update(f"The map needs the MNIST test set.\n{app.test_set_error}\n"
                          "Random samples (r) still work.")
        elif app.models is not None and app.test_set is not None:
            status.update("Encoding the test set…")
            self._encode_worker(app.models.vae.model, app.test_set)

    @work(thread=True, group="encode", exclusive=True, exit_on_error=False)
    def _encode_worker(self, vae, digits):
        from digittui.latent import encode_map

        return encode_map(vae, digits, max_points=MAP_POINTS)

    def _draw_map(self) -> None:
        plot = self.query_one("#latent-map", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        m = self.map
        if m is None:
            plot.refresh()
            return
        points, labels = m.points.numpy(), m.labels.numpy()
        explained = m.explained.tolist()
        plt.title(f"VAE latent means, PCA ({explained[0]:.0%} + {explained[1]:.0%} of variance)")
        for digit in range(10):
            mine = points[labels == digit]
            plt.scatter(mine[:, 0].tolist(), mine[:, 1].tolist(), marker=str(digit), color=COLOURS[digit])
        if self.showing == "plane":
            v = self.view
            xs = [v.x - v.extent, v.x + v.extent, v.x + v.extent, v.x - v.extent, v.x - v.extent]
            ys = [v.y - v.extent, v.y - v.extent, v.y + v.extent, v.y + v.extent, v.y - v.extent]
            plt.plot(xs, ys, marker="braille", color="white")
        plot.refresh()

    # The decoded grid --------------------------------------------------------------------------

    def _grid_size(self) -> int:
        right = self.query_one("#explore-right")
        columns = (right.content_size.width + 1) // CELL_COLUMNS
        rows = (right.content_size.height - 1) // CELL_ROWS  # below a one-line status
        return max(2, min(9, columns, rows))

    def _decode_plane(self) -> None:
        app = self.app
        if self.map is None or app.models is None or app.models.vae is None:
            return
        v, n = self.view, self._grid_size()
        self.query_one("#explore-status", Static).update(
            f"The map's box: x {v.x - v.extent:+.1f}…{v.x + v.extent:+.1f}, "
            f"y {v.y - v.extent:+.1f}…{v.y + v.extent:+.1f}")
        self._decode_worker(app.models.vae.model, self.map, v.x, v.y, v.extent, n)

    @work(thread=True, group="decode", exclusive=True, exit_on_error=False)
    def _decode_worker(self, vae, latent_map, x: float, y: float, extent: float, n: int) -> np.ndarray:
        from digittui.latent import plane_grid

        axes = latent_map.axes
        center = latent_map.center + x * axes[0] + y * axes[1]
        return plane_grid(vae, center, axes[0], axes[1], extent, n).numpy()

    def action_pan(self, dx: int, dy: int) -> None:
        if self.map is None:
            return
        self.showing = "plane"
        step = self.view.extent / 2
        self.view.x += dx * step
        self.view.y += dy * step
        self._draw_map()
        self._decode_plane()

    def action_zoom(self, factor: float) -> None:
        if self.map is None:
            return
        self.showing = "plane"
        self.view.extent = min(max(self.view.extent * factor, 0.1), 10.0)
        self._draw_map()
        self._decode_plane()

    def action_plane(self) -> None:
        self.action_zoom(1.0)

    def action_random(self) -> None:
        models = self.app.models
        if models is None or models.vae is None:
            self.notify("Random samples need the VAE", severity="warning")
            return
        self.showing = "random"
        self.seed += 1
        n = self._grid_size()
        self.query_one("#explore-status", Static).update(
            f"Random z ~ {models.vae.model.prior.describe()}, seed {self.seed}")
        self._sample_worker(models.vae.model, n * n, self.seed)
        self._draw_map()

    @work(thread=True, group="decode", exclusive=True, exit_on_error=False)
    def _sample_worker(self, vae, count: int, seed: int) -> np.ndarray:
        from digittui.latent import sample_prior

        return sample_prior(vae, count, seed)[1].numpy()

    def action_morph(self) -> None:
        if self.map is None or self.app.test_set is None:
            self.notify("Morphs between test digits need the VAE and the test set", severity="warning")
            return

        def chosen(text: str | None) -> None:
            parts = (text or "").replace(" ", "").replace(">", ",").split(",")
            if text is None:
                return
            if len(parts) != 2 or not all(len(p) == 1 and p.isdigit() for p in parts):
                self.notify("Give two digits, like 3,8", severity="error")
                return
            self.showing = "morph"
            a, b = int(parts[0]), int(parts[1])
            self.seed += 1
            self.query_one("#explore-status", Static).update(f"Morph: a test {a} to a test {b}")
            self._morph_worker(self.app.models.vae.model, self.app.test_set, a, b, self.seed,
                               self._grid_size() ** 2)
            self._draw_map()

        self.app.push_screen(PromptScreen("Morph from a test image of one digit to another", "3,8"), chosen)

    @work(thread=True, group="decode", exclusive=True, exit_on_error=False)
    def _morph_worker(self, vae, digits, a: int, b: int, seed: int, frames: int) -> np.ndarray:
        from digittui.latent import morph_test_digits

        return morph_test_digits(vae, digits, a, b, seed, frames).numpy()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group not in ("encode", "decode"):
            return
        if event.state == WorkerState.ERROR:
            self.query_one("#explore-status", Static).update(user_message(worker.error))
            self.notify(user_message(worker.error), title="Explore", severity="error", timeout=8, markup=False)
        elif event.state == WorkerState.SUCCESS and worker.group == "encode":
            self.map = worker.result
            self._draw_map()
            self._decode_plane()
        elif event.state == WorkerState.SUCCESS:
            images = worker.result.reshape(-1, 28, 28)
            self.query_one("#explore-grid", DigitGrid).update(images, columns=math.isqrt(len(images)))
