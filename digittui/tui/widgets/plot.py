"""A live line plot over textual-plotext that keeps every point but draws few.

plotext rebuilds the whole plot on the UI thread at every refresh (~23 ms for 1,000 points at 80x24,
~170 ms for 10,000), so `redraw` plots each series bucket-averaged to at most twice the widget's
width, and callers redraw at 2-5 Hz, not per event.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

# Distinct markers keep series apart without colour (NO_COLOR, 16-colour terminals).
MARKERS = ("braille", "dot", "+", "x")


def bucket_mean(xs: list[float], ys: list[float], buckets: int) -> tuple[list[float], list[float]]:
    """Average consecutive points into at most `buckets` points (also a smoothing of noisy losses)."""
    n = len(xs)
    if n <= buckets:
        return list(xs), list(ys)
    bx, by = [], []
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        if hi > lo:
            bx.append(sum(xs[lo:hi]) / (hi - lo))
            by.append(sum(ys[lo:hi]) / (hi - lo))
    return bx, by


class LivePlot(PlotextPlot):
    """Named series of (x, y) points; `add` only records, `redraw` draws."""

    def __init__(self, title: str, xlabel: str = "", ylim: tuple[float, float] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.xlabel = xlabel
        self.ylim = ylim
        self.series: dict[str, tuple[list[float], list[float]]] = {}
        self._dirty = True

    def add(self, name: str, x: float, y: float) -> None:
        xs, ys = self.series.setdefault(name, ([], []))
        xs.append(float(x))
        ys.append(float(y))
        self._dirty = True

    def reset(self) -> None:
        self.series.clear()
        self._dirty = True

    def on_resize(self) -> None:
        self._dirty = True
        self.redraw()

    def redraw(self, force: bool = False) -> None:
        """Replot if anything changed since the last redraw (cheap to call on a timer)."""
        if not (self._dirty or force):
            return
        self._dirty = False
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel(self.xlabel)
        if self.ylim:
            plt.ylim(*self.ylim)
        buckets = max(2 * self.size.width, 16)
        for i, (name, (xs, ys)) in enumerate(self.series.items()):
            if xs:
                bx, by = bucket_mean(xs, ys, buckets)
                plt.plot(bx, by, label=name, marker=MARKERS[i % len(MARKERS)])
        self.refresh()
