"""A live line plot over textual-plotext that keeps every point but draws few.

plotext rebuilds the whole plot on the UI thread at every refresh (~23 ms for 1,000 points at 80x24,
~170 ms for 10,000), so `redraw` plots each series bucket-averaged to at most twice the widget's
width, and callers redraw at 2-5 Hz, not per event.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

# Distinct markers keep series apart without colour (NO_COLOR, 16-colour terminals).
MARKERS = ("braille", "dot", "+", "x")
MAX_TICKS = 8


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


def y_range(ys: list[float], bounds: tuple[float, float] | None) -> tuple[float, float]:
    """The data's range with a little room, inside `bounds`. plotext alone spreads a single value
    over +-50% of itself (one epoch at 98% read 49-148%)."""
    lo, hi = min(ys), max(ys)
    pad = max((hi - lo) * 0.05, abs(hi) * 0.005, 1e-3)
    lo, hi = lo - pad, hi + pad
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return lo, hi


def integer_ticks(first: int, last: int) -> list[int]:
    """At most MAX_TICKS whole numbers from first to last, both included."""
    step = max(1, -(-(last - first) // (MAX_TICKS - 1)))
    ticks = list(range(first, last + 1, step))
    return ticks if ticks[-1] == last else ticks + [last]


class LivePlot(PlotextPlot):
    """Named series of (x, y) points; `add` only records, `redraw` draws.

    `ylim` fixes the y axis; otherwise it follows the data, kept inside `ybounds`. `xlim` (first, last)
    makes the x axis whole numbers over that span (epochs), however few points there are yet."""

    def __init__(self, title: str, xlabel: str = "", ylim: tuple[float, float] | None = None,
                 ybounds: tuple[float, float] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.title = title
        self.xlabel = xlabel
        self.ylim = ylim
        self.ybounds = ybounds
        self.xlim: tuple[int, int] | None = None
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
        all_y = [y for _, ys in self.series.values() for y in ys]
        if self.ylim:
            plt.ylim(*self.ylim)
        elif all_y:
            plt.ylim(*y_range(all_y, self.ybounds))
        if self.xlim:
            first, last = self.xlim
            plt.xlim(first - 0.5, last + 0.5) if first == last else plt.xlim(first, last)
            plt.xticks(integer_ticks(first, last))
        buckets = max(2 * self.size.width, 16)
        for i, (name, (xs, ys)) in enumerate(self.series.items()):
            if xs:
                bx, by = bucket_mean(xs, ys, buckets)
                plt.plot(bx, by, label=name, marker=MARKERS[i % len(MARKERS)])
        self.refresh()
