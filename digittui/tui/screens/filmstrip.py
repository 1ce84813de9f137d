"""One generated sample's journey: its frames from step 0 to the result, the CNN's confidence
under each, in a dialog over the Generate screen."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from digittui.tui.widgets import DigitGrid, KeyButton


@dataclass
class Filmstrip:
    """What the dialog shows: a title, frames [T, 28, W], the CNN's confidence [T] and the steps [T]."""

    title: str
    frames: np.ndarray
    confidence: list[float]
    steps: list[int]

    @classmethod
    def of(cls, result, sample: int) -> "Filmstrip":
        """Sample `sample` (0-based) of a Generated, titled with the request and the CNN's final
        reading of it (for class:k and hybrids, the digits it actually sees)."""
        reading = "".join(map(str, result.predicted[sample].tolist()))
        title = (f"{result.request.label}, sample {sample + 1}: {len(result.trajectory_steps)} frames, "
                 f"step 0 to {result.steps}; the CNN reads the result as {reading}. Under each frame: "
                 "step, the CNN's confidence")
        return cls(title, result.trajectory[:, sample].numpy(), result.trajectory_confidence[:, sample].tolist(),
                   list(result.trajectory_steps))


class FilmstripScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape", "close", "Close")]

    def __init__(self, strip: Filmstrip) -> None:
        super().__init__()
        self.strip = strip

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="filmstrip"):
            yield Label(Content(self.strip.title), id="filmstrip-title")
            with VerticalScroll(id="filmstrip-frames"):
                yield DigitGrid(zoom=None, id="filmstrip-grid")
            yield KeyButton("Close", id="filmstrip-close", compact=True)
            yield Static("esc closes", classes="hint")

    def on_mount(self) -> None:
        captions = [f"{s}: {c:.2f}" for s, c in zip(self.strip.steps, self.strip.confidence)]
        self.query_one("#filmstrip-grid", DigitGrid).update(list(self.strip.frames), captions)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_close()

    def action_close(self) -> None:
        self.dismiss(None)
