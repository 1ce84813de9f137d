"""What the screens show: images sized to the room they have, fields that check their values, the
training run's state and progress (on every screen), and nothing stale from an earlier run."""

from __future__ import annotations

import re

import numpy as np
import pytest
from textual.widgets import Input, ProgressBar

from digittui.events import EpochEnd, Finished, Outcome, Progress, Started
from digittui.tui.jobs import RunState, TrainRequest, TrainRun
from digittui.tui.widgets.digits import DigitGrid, fit_zoom, rescale, scaled_size
from digittui.tui.widgets.plot import integer_ticks, y_range
from tests.tui.helpers import ready, run, wait_for

NUMBER = (28, 112)  # a four-digit number, h x w


# Images ----------------------------------------------------------------------------------------

def test_rescale_enlarges_crisply_and_shrinks_to_the_size_it_reports():
    image = np.random.default_rng(0).random((28, 112)).astype(np.float32)
    assert np.array_equal(rescale(image, 2)[::2, ::2], image)  # each pixel repeated 2x2
    for zoom in (2, 1, 0.5, 87 / 112, 47 / 112):
        columns, rows = scaled_size(image.shape, zoom)
        out = rescale(image, zoom)
        assert out.shape[1] == columns and (out.shape[0] + 1) // 2 == rows
    assert abs(rescale(image, 0.5).mean() - image.mean()) < 1e-6  # a mean over each block


def test_fit_zoom_takes_the_largest_whole_zoom_that_fits_else_shrinks_to_fit():
    assert fit_zoom((28, 28), 60, 30) == 2
    assert fit_zoom((28, 28), 60, 20) == 1  # 28 rows would not fit
    assert fit_zoom((28, 112), 87, None) == pytest.approx(87 / 112)


@pytest.mark.parametrize("width, columns", [(127, 112), (87, 87), (47, 47)])
def test_a_number_fills_the_width_one_a_row(width, columns):
    """2026 at 120x40 (87 columns beside the form) is drawn 87 columns wide, ~22 per digit, not
    shrunk 4x to fit three side by side as before."""
    grid = DigitGrid(zoom=None)
    grid.update([np.zeros(NUMBER)] * 8)
    zoom, per_row = grid._layout(width)
    assert per_row == 1 and scaled_size(NUMBER, zoom)[0] == columns


def test_digits_stay_whole_size_three_a_row_or_half_size_when_narrow():
    grid = DigitGrid(zoom=None)
    grid.update([np.zeros((28, 28))] * 8)
    assert grid._layout(87) == (1.0, 3)
    assert grid._layout(47) == (0.5, 3)


def test_the_test_image_doubles_on_a_large_terminal(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            await wait_for(pilot, lambda: app.screen.query_one("#browser").verdicts is not None)
            await pilot.pause(0.1)
            assert app.screen.query_one("#browse-image").content_region.width == 56
            await pilot.resize_terminal(80, 24)
            await pilot.pause(0.2)
            assert app.screen.query_one("#browse-image").content_region.width == 28

    run(scenario)


# Plots -----------------------------------------------------------------------------------------

def test_one_epoch_plots_on_a_sensible_axis():
    lo, hi = y_range([98.85], (0.0, 100.0))
    assert 98 < lo < 98.85 < hi <= 100  # not 49.4-148.3 as plotext alone chose
    assert integer_ticks(1, 1) == [1] and integer_ticks(1, 2) == [1, 2]
    assert integer_ticks(1, 100)[-1] == 100 and len(integer_ticks(1, 100)) <= 9


# Training state --------------------------------------------------------------------------------

def test_run_state_moves_only_along_its_transitions():
    run_ = TrainRun(TrainRequest(("cnn",)), {})
    assert run_.state is RunState.STARTING and not run_.pause()  # nothing to pause while loading
    run_.apply(Started("cnn", "CPU", None, 2, 0, 10))
    assert run_.state is RunState.TRAINING
    assert run_.pause() and run_.control.paused and not run_.pause()
    assert run_.resume() and not run_.control.paused and not run_.resume()
    assert run_.stop() and run_.control.cancelled and run_.state is RunState.STOPPING
    assert not run_.pause() and not run_.resume() and not run_.stop()
    run_.ended()
    assert run_.state is RunState.DONE and not run_.active


def test_a_stop_while_loading_is_not_undone_when_the_run_starts():
    run_ = TrainRun(TrainRequest(("cnn",)), {})
    assert run_.stop()
    run_.apply(Started("cnn", "CPU", None, 2, 0, 10))
    assert run_.state is RunState.STOPPING


def test_the_next_model_starts_from_an_empty_bar():
    run_ = TrainRun(TrainRequest(("cnn", "vae")), {})
    run_.apply(Started("cnn", "CPU", None, 1, 0, 10))
    run_.apply(Progress("cnn", 1, 1, 10, 10, 0.1, 100.0, 0.0, 1e-3))
    run_.apply(Finished("cnn", Outcome.COMPLETED, 1, {}, None, 1.0))
    assert run_.kind == "vae" and run_.progress is None
    assert run_.headline() == "loading VAE"


def _vae_run():
    import torch

    run_ = TrainRun(TrainRequest(("vae",)), {})
    run_.apply(Started("vae", "CPU", None, 1, 0, 10))
    run_.apply(EpochEnd("vae", 1, 1, {"test_loss": 120.0, "test_recon": 100.0, "test_kl": 20.0}, None,
                        1.0, 100.0, torch.zeros(2, 8, 28, 28)))
    run_.apply(Finished("vae", Outcome.COMPLETED, 1, {}, None, 1.0))
    run_.ended()
    return run_


def test_a_cnn_run_after_a_vae_run_shows_no_reconstructions_and_a_sane_axis(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.press("t")
            screen = app.screen
            app.train_run = _vae_run()
            app.train_changed.publish(app.train_run)
            await pilot.pause()
            assert screen.query_one("#train-recon").display
            cnn = TrainRun(TrainRequest(("cnn",)), {})
            cnn.apply(Started("cnn", "CPU", None, 2, 0, 10))
            cnn.apply(Progress("cnn", 1, 2, 10, 20, 0.3, 100.0, 1.0, 1e-3))
            cnn.apply(EpochEnd("cnn", 1, 2, {"test_accuracy": 0.9885}, None, 1.0, 100.0))
            app.train_run = cnn
            app.train_changed.publish(cnn)
            await pilot.pause()
            assert not screen.query_one("#train-recon").display
            plot = screen.query_one("#metric-plot")
            assert plot.xlim == (1, 2) and plot.ybounds == (0.0, 100.0)
            assert screen.query_one("#train-progress", ProgressBar).percentage == 0.5

    run(scenario)


def test_the_header_shows_training_progress_on_every_screen(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("t")
            app.screen.query_one("#train-epochs", Input).value = "500"
            await pilot.press("s")
            await pilot.press("g")
            await wait_for(pilot, lambda: "training CNN" in app.sub_title)
            assert re.search(r"epoch \d+/500", app.sub_title)
            app.pause_training()
            assert "CNN paused" in app.sub_title
            app.stop_training()
            await wait_for(pilot, lambda: not app.training)
            assert "paused" not in app.sub_title and "training" not in app.sub_title  # the run's part is gone

    run(scenario)


def test_a_failed_run_says_why_in_the_status_line(make_app, monkeypatch):
    from digittui.errors import DataError
    from digittui.tui import jobs

    def fail(run_, data_dir):
        raise DataError("the MNIST files are damaged")

    monkeypatch.setattr(jobs, "run_training", fail)

    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("t", "s")
            status = app.screen.query_one("#train-status")
            await wait_for(pilot, lambda: "damaged" in str(status.content))
            assert str(status.content).startswith("Failed: the MNIST files are damaged")

    run(scenario)


# Fields ----------------------------------------------------------------------------------------

def test_empty_fields_stay_valid_after_a_visit_and_bad_values_are_refused(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("t")
            screen = app.screen
            for selector in ("#train-epochs", "#train-batch", "#train-lr"):
                await pilot.click(selector)
            await pilot.press("escape")
            assert not any(field.has_class("-invalid") for field in screen.query(Input))
            screen.query_one("#train-lr", Input).value = "nan"
            await pilot.press("s")
            assert app.train_run is None
            assert "Peak LR" in str(screen.query_one("#train-status").content)
            screen.query_one("#train-lr", Input).value = ""
            screen.query_one("#train-epochs", Input).value = "0"
            await pilot.press("s")
            assert app.train_run is None and screen.query_one("#train-epochs").has_class("-invalid")
            await pilot.press("g")
            app.screen.query_one("#gen-count", Input).value = "257"
            await pilot.press("r")
            assert "Count" in str(app.screen.query_one("#gen-status").content) and not app.screen.results

    run(scenario)


def test_dragging_on_the_canvas_selects_no_text(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("d")
            canvas = app.screen.query_one("#canvas")
            await pilot.mouse_down(canvas, offset=(5, 3))
            await pilot.hover("#draw-verdict", offset=(10, 0))  # on into the panel beside
            await pilot.mouse_up("#draw-verdict", offset=(10, 0))
            assert canvas.pixels.sum() > 0 and not app.screen.selections

    run(scenario)
