"""Widgets shared by the screens."""

from digittui.tui.widgets.bars import ProbabilityBars
from digittui.tui.widgets.buttons import KeyButton
from digittui.tui.widgets.canvas import DrawCanvas
from digittui.tui.widgets.digits import DigitGrid, DigitImage
from digittui.tui.widgets.footer import KeyFooter
from digittui.tui.widgets.plot import LivePlot

__all__ = ["DigitGrid", "DigitImage", "DrawCanvas", "KeyButton", "KeyFooter", "LivePlot", "ProbabilityBars"]
