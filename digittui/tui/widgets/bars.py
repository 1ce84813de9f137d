"""Horizontal probability bars for the ten digit classes."""

from __future__ import annotations

from typing import Sequence

from textual.content import Content
from textual.widget import Widget

EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(fraction: float, width: int) -> str:
    """A bar of `width` cells filled to `fraction`, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, fraction)) * width * 8)
    full, part = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[part] if part else "")).ljust(width)


class ProbabilityBars(Widget):
    """One row per digit: the label, a bar and the probability. The predicted digit is bold and
    marked '<', the true one (when known) marked '*', so it reads without colour too."""

    DEFAULT_CSS = "ProbabilityBars { width: 1fr; height: 10; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._probs: list[float] = []
        self._true: int | None = None

    def update(self, probs: Sequence[float], true: int | None = None) -> None:
        self._probs = [float(p) for p in probs[:10]]
        self._true = true
        self.refresh()

    def clear(self) -> None:
        self.update([])

    def render(self) -> Content:
        parts: list[tuple[str, str]] = []
        width = max(self.size.width - 12, 1)
        predicted = max(range(len(self._probs)), key=self._probs.__getitem__) if self._probs else None
        for digit in range(10):
            p = self._probs[digit] if self._probs else 0.0
            style = "bold" if digit == predicted else ""
            mark = ("<" if digit == predicted else " ") + ("*" if digit == self._true else " ")
            parts.append((f"{digit} ", style))
            parts.append((bar(p, width), "$text-accent" if digit == predicted else "$text-primary"))
            parts.append((f"{p:6.1%}{mark}" if self._probs else "     -  ", style))
            if digit < 9:
                parts.append(("\n", ""))
        return Content.assemble(*parts)
