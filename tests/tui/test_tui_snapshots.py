"""Snapshots of every screen at 80x24 (the smallest supported size) and at 160x50, with seeded
weights, the tiny synthetic MNIST and no clocks, so they only change when the UI does.

Update after an intended change: pytest tests/tui/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.tui.helpers import ready, settled, wait_for

pytestmark = pytest.mark.usefixtures("fixed_device_name", "fixed_home")
SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 50)], ids=["80x24", "160x50"])


@pytest.fixture
def fixed_home(monkeypatch):
    """Screens show where checkpoints go: the same path on every run. Nothing is written there."""
    monkeypatch.setenv("DIGITTUI_HOME", "/nonexistent/digittui-home")


# Shell and classify ----------------------------------------------------------------------------

@SIZES
def test_classify_browse(snap_compare, make_app, size):
    """The first screen: a test digit in half-blocks (twice as large at 160x50), its probability
    bars, true vs predicted."""

    async def before(pilot):
        await ready(pilot)
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#browser").verdicts is not None)
        await pilot.press("right")

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


def test_classify_browse_misclassified_wide(snap_compare, make_app):
    """Misclassified filter on a larger terminal: the layout grows, the footer shows more keys."""

    async def before(pilot):
        await ready(pilot)
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#browser").verdicts is not None)
        await pilot.press("m")

    assert snap_compare(make_app(), terminal_size=(120, 36), run_before=before)


@SIZES
def test_classify_confusion(snap_compare, make_app, size):
    """The confusion matrix of the (seeded, untrained) CNN on the tiny test set."""

    async def before(pilot):
        await ready(pilot)
        await wait_for(pilot, lambda: pilot.app.screen.query_one("#browser").verdicts is not None)
        await pilot.press("x")

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@SIZES
def test_classify_draw(snap_compare, make_app, size):
    """A stroke drawn with the keyboard cursor and the CNN's live verdict."""

    async def before(pilot):
        await ready(pilot)
        await pilot.press("d", "space", *["down"] * 6, "right", "right", "space")
        await wait_for(pilot, lambda: "Predicted" in str(pilot.app.screen.query_one("#draw-verdict").content))

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


def test_classify_without_data(snap_compare, make_app):
    """No MNIST: the screen says how to point at it."""

    async def before(pilot):
        await ready(pilot)
        await pilot.pause(0.1)

    assert snap_compare(make_app(data_dir="/nonexistent/mnist"), terminal_size=(80, 24), run_before=before)


@SIZES
def test_help(snap_compare, make_app, size):
    """The help screen."""

    async def before(pilot):
        await ready(pilot)
        await pilot.press("question_mark")

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


# Train -----------------------------------------------------------------------------------------

def _finished_vae_run():
    """A VAE run's history as the engine reports it, without training (no clocks, fixed numbers)."""
    import torch

    from digittui.events import EpochEnd, Finished, Outcome, Progress, Started
    from digittui.tui.jobs import TrainRequest, TrainRun

    run = TrainRun(TrainRequest(kinds=("vae",), epochs=3), {"vae": None})
    events = [Started("vae", "CPU", None, 3, 0, 100)]
    for step in range(20, 301, 20):
        events.append(Progress("vae", (step - 1) // 100 + 1, 3, step, 300, 200 * 0.99 ** step + 100,
                               5000.0, (300 - step) * 0.05, 1e-3))
        if step % 100 == 0:
            epoch = step // 100
            x = torch.zeros(2, 8, 28, 28)
            x[:, :, 6:22, 12:16] = 1.0  # a bar as "test image", a softer one as its reconstruction
            x[1] *= 0.6
            events.append(EpochEnd("vae", epoch, 3, {"test_loss": 130 - 5 * epoch, "test_recon": 110 - 6 * epoch,
                                                     "test_kl": 20 + epoch}, None, 10.0 * epoch, x))
    events.append(Finished("vae", Outcome.COMPLETED, 3, {}, None, 30.0))
    for event in events:
        run.apply(event)
    run.ended()
    return run


@SIZES
def test_train_finished_vae_run(snap_compare, make_app, size):
    """Loss per step, test recon/KL/total per epoch, the progress bar and the reconstructions."""

    async def before(pilot):
        await ready(pilot)
        await pilot.press("t")
        app = pilot.app
        app.train_run = _finished_vae_run()
        app.train_changed.publish(app.train_run)
        await pilot.pause(0.1)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@SIZES
def test_train_form(snap_compare, make_app, size):
    """The train screen before any run."""

    async def before(pilot):
        await ready(pilot)
        await pilot.press("t")

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


def test_train_field_being_edited(snap_compare, make_app):
    """In a field: the footer dims the keys it takes and offers esc; an out-of-range value is red."""

    async def before(pilot):
        await ready(pilot)
        await pilot.press("t")
        await pilot.click("#train-epochs")
        await pilot.press("0")

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=before)


@SIZES
def test_offer_after_a_run(snap_compare, make_app, size):
    """A run's best beside the weights in use: worse here, so Keep has the focus."""
    from pathlib import Path

    from digittui.tui.screens.weights import Offer, OfferScreen

    async def before(pilot):
        await ready(pilot)
        await pilot.press("t")
        offer = Offer("cnn", Path("/nonexistent/best.pt"), 2, 2, {"test_accuracy": 0.9885},
                      {"test_accuracy": 0.9933}, "run 11-28 14:25:01")
        pilot.app.push_screen(OfferScreen(offer))
        await pilot.pause(0.1)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@SIZES
def test_weights_list(snap_compare, make_app, size):
    """w on the Train screen: every usable CNN and VAE with its test metric, those in use marked."""

    async def before(pilot):
        await ready(pilot)
        await pilot.press("t", "w")
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


# Generate and explore -------------------------------------------------------------------------

def _generate(spec: str, count: str):
    async def before(pilot):
        await ready(pilot)
        await pilot.press("g")
        screen = pilot.app.screen
        screen.query_one("#gen-spec", Input).value = spec
        screen.query_one("#gen-count", Input).value = count
        screen.query_one("#gen-steps", Input).value = "10"
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.results)
        screen.query_one("#gen-hint").update("Saves to the export folder")  # a tmp path otherwise
        await pilot.pause(0.1)

    return before


@SIZES
def test_generate_results(snap_compare, make_app, size):
    """Seeded generation: the results grid with the CNN's reading and confidence, the plot."""
    assert snap_compare(make_app(), terminal_size=size, run_before=_generate("7", "6"))


@SIZES
def test_generate_a_number(snap_compare, make_app, size):
    """A number fills the width it has, one a row: 47 columns at 80x24, 112 (1:1) at 160x50."""
    assert snap_compare(make_app(), terminal_size=size, run_before=_generate("2026", "2"))


@SIZES
def test_generate_filmstrip(snap_compare, make_app, size):
    """Random starts, then sample 2's journey: its frames from step 0 to the result, the step and
    the CNN's confidence under each."""

    async def before(pilot):
        await ready(pilot)
        await pilot.press("g")
        screen = pilot.app.screen
        screen.query_one("#gen-init").value = "random"
        screen.query_one("#gen-count", Input).value = "3"
        screen.query_one("#gen-steps", Input).value = "20"
        await pilot.press("r")
        await wait_for(pilot, lambda: screen.results)
        await pilot.press("j", "backspace", "2", "enter")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "FilmstripScreen")
        await pilot.pause(0.1)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)


@SIZES
def test_explore_map_and_plane(snap_compare, make_app, size):
    """The latent map marked by digit, the decoded plane's box on it, and the decoded grid."""

    async def before(pilot):
        await ready(pilot)
        await pilot.press("e")
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.map is not None)
        grid = screen.query_one("#explore-grid")
        await wait_for(pilot, lambda: grid._images)
        await pilot.press("left")
        await settled(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=before)
