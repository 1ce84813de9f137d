"""Help screen: what each screen does and its keys."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Markdown

from digittui.tui.screens.base import DigitScreen

HELP = """\
# digittui

Single keys switch screens: **t** train · **c** classify · **g** generate · **e** explore ·
**?** this help · **q** quit. **ctrl+p** opens the command palette: every action is there too.
The footer lists these first, then the keys of the screen you are on. While a text field has the
focus, keys go to it (the footer dims the ones it takes): **esc** leaves the field and gives them
back, **enter** runs the screen's main action, **tab** moves on. Buttons work by click, **enter**
and **space**.

## Train (t)
Pick the model (CNN classifier, VAE generator, or both), epochs, batch size, peak learning rate and
device; empty fields use the model's defaults. **s** starts, **p** pauses and resumes, **x** stops
after the current step. Every run is kept: its last epoch (to resume) and its best one. When a run
ends, the app shows its best test metric beside the weights in use, and you choose; **w** lists the
shipped weights and every kept run, to switch or delete. The header names the weights in use and
their test metric, and a run's progress on every screen. Quitting while training asks first and
keeps the last completed epoch.

## Classify (c)
**Test set**: **←/→** browse, **PgUp/PgDn** jump 100, **Home/End**, **j** jump to an image number,
**m** show only misclassified images. Bars show the CNN's probability per digit: `<` marks the
prediction, `*` the true label.
**Draw** (**d**): drag the mouse, or move with the arrows and press **space** to put the pen down or
lift it; **[ ]** brush size, **Del** clears. The drawing is cropped, scaled and centred like MNIST
before the CNN sees it. **o** opens an image file: type its path (**→** completes it) or pick it
in the tree of folders and images.
**Confusion** (**x**): true digits in rows, predictions in columns; **enter** on a cell lists its images.

## Generate (g)
Type what to generate: a digit `7`, a number `2026`, a hybrid `3+8`, or `class:11`, an output unit
of the CNN that no training example ever targeted. The VAE's latent space is searched for images the
CNN reads as the target; the images sharpen live. **Start**: `picked` begins from draws the CNN already
reads as the target, `random` from pure noise, which you watch become the digit. **j** (or a click on
a sample) opens its journey as a filmstrip (its frames from step 0, the CNN's confidence under each). **s** saves PNG,
.npz and the journey as a GIF to the export folder shown (in a browser, through `digittui serve`, the
browser downloads them too).

## Explore (e)
The VAE's latent space: test digits encoded and projected to 2-D, coloured and marked by label; a grid
of images decoded over a plane you move with the arrows; random samples; morphs between two digits.

## Data and weights
MNIST is read from `$DIGITTUI_DATA` (the folder holding `MNIST/raw/`). The shipped weights are used
until you choose others (**w** here, or `digittui checkpoint use` in a shell).
"""


class HelpScreen(DigitScreen):
    def compose_body(self) -> ComposeResult:
        yield Markdown(HELP, id="help-text")
