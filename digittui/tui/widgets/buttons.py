"""Buttons that Space presses as well as Enter and a click, as in other toolkits (Textual binds Enter)."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Button


class KeyButton(Button):
    BINDINGS = [Binding("space", "press", "Press", show=False)]
