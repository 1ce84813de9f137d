"""Each screen's main flow, driven through Pilot on tiny synthetic MNIST with seeded weights."""

from __future__ import annotations

import collections
import os
import subprocess
import sys
import threading

import numpy as np
from textual.binding import Binding
from textual.widgets import Input, Select

from digittui import paths, weights
from digittui.tui.jobs import RunState, TrainRequest
from digittui.tui.widgets.digits import scaled_size
from tests.tui.helpers import ready, run, start_long_training, wait_for


def test_importing_the_app_does_not_import_torch():
    """The first frame must not wait for torch: it is imported by the model-loading worker."""
    code = "import sys, digittui.tui.app; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_header_shows_device_and_weights(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            assert app.sub_title == "loading models…"  # the first frame does not wait
            await ready(pilot)
            assert app.sub_title.startswith("CNN given · VAE given · CPU")  # seeded weights: no test metric

    run(scenario)


def test_train_a_tiny_cnn_then_the_app_uses_it(make_app, monkeypatch):
    from digittui.tui import jobs

    warmed_up, prepare = [], jobs.prepare_training
    monkeypatch.setattr(jobs, "prepare_training", lambda: warmed_up.append(prepare() is None))

    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("t")
            screen = app.screen
            screen.query_one("#train-device", Select).value = "cpu"
            screen.query_one("#train-epochs", Input).value = "1"
            await pilot.press("s")
            await wait_for(pilot, lambda: app.train_run is not None and app.train_run.state is RunState.DONE)
            assert app.train_run.finished["cnn"].status == "completed"
            kept = app.train_run.runs["cnn"]
            assert kept.best.is_file() and kept.last.is_file()
            # The new metric beside the one in use, and the user chooses
            await wait_for(pilot, lambda: type(app.screen).__name__ == "OfferScreen")
            assert "In use now" in str(app.screen.query_one("Label").content)
            assert "CNN" in app.sub_title and "given" in app.sub_title  # nothing switched yet
            await pilot.press("u")
            await wait_for(pilot, lambda: f"CNN {weights.METRICS['cnn'].format(app.train_run.best['cnn'][1])} "
                                          f"{kept.label}" in app.sub_title)
            assert weights.chosen("cnn") == kept.best.resolve()
            assert "Finished: CNN completed at epoch 1" in str(screen.query_one("#train-status").content)
            assert screen.query_one("#loss-plot").series["loss"][0]  # the loss was plotted
            assert warmed_up == [True]  # opening the screen built a first optimizer in the background

    run(scenario)


def test_pause_resume_and_stop(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            run_ = await start_long_training(pilot)
            await wait_for(pilot, lambda: run_.progress is not None)
            await pilot.press("p")
            assert run_.state is RunState.PAUSED and run_.control.paused
            await pilot.press("p")
            assert run_.state is RunState.TRAINING and not run_.control.paused
            await pilot.press("x")
            await wait_for(pilot, lambda: run_.state is RunState.DONE)
            assert run_.finished["cnn"].status == "cancelled"

    run(scenario)


def test_quit_while_training_asks_then_stops_and_keeps_the_checkpoint(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            run_ = await start_long_training(pilot)
            await wait_for(pilot, lambda: run_.epoch_metrics["cnn"])  # one epoch saved
            await pilot.press("q")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("n")  # changed my mind: still training
            assert app.training
            await pilot.press("q")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("y")
            await wait_for(pilot, lambda: not app.is_running)
        assert run_.finished["cnn"].status == "cancelled"
        from digittui import checkpoints

        assert checkpoints.load(run_.runs["cnn"].last, "cnn").epoch >= 1
        assert weights.chosen("cnn") is None  # quitting chose nothing

    run(scenario)


def test_browse_the_test_set_and_filter_misclassified(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            browser = app.screen.query_one("#browser")
            await wait_for(pilot, lambda: browser.verdicts is not None)
            assert browser.current == 0
            await pilot.press("right", "right")
            assert browser.current == 2
            await pilot.press("end")
            assert browser.current == 63
            await pilot.press("m")
            v = browser.verdicts
            assert list(browser.shown) == list(np.flatnonzero(v.labels != v.predicted))
            assert "misclassified only" in str(app.screen.query_one("#browse-filter").content)
            await pilot.press("j")
            await pilot.press("1", "0", "enter")
            assert browser.current == 10 and browser.filter == "all"

    run(scenario)


def test_confusion_cell_lists_its_images(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            browser = app.screen.query_one("#browser")
            await wait_for(pilot, lambda: browser.verdicts is not None)
            await pilot.press("x")
            table = app.screen.query_one("#confusion-table")
            assert table.row_count == 11  # ten digits and the totals
            table.move_cursor(row=3, column=4)  # true 3, predicted 3
            await pilot.press("enter")
            v = browser.verdicts
            assert browser.filter == (3, 3)
            assert list(browser.shown) == list(np.flatnonzero((v.labels == 3) & (v.predicted == 3)))

    run(scenario)


def test_without_mnist_the_screen_says_how_to_get_it_and_a_training_run_brings_it(make_app, tmp_path):
    """The app never downloads the test set itself; training does, and the test set appears when
    the run ends. (Here the files are written before the run, as its download would leave them.)"""
    from tests.mnist_files import make_mnist

    async def scenario():
        app = make_app(data_dir=str(tmp_path / "fetched"))
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.pause(0.1)
            classify = app.screen  # under the dialog that offers the new weights at the end
            message = str(classify.query_one("#browse-message").content)
            assert "DIGITTUI_DATA" in message and "train a model" in message and "Drawing a digit" in message
            make_mnist(tmp_path / "fetched")
            app.start_training(TrainRequest(("cnn",), epochs=1, device="cpu"))
            await wait_for(pilot, lambda: app.test_set is not None)
            assert app.test_set_error is None and len(app.test_set) == 64
            await wait_for(pilot, lambda: not classify.query_one("#browse-message").display)

    run(scenario)


def test_draw_with_the_keyboard_gets_a_prediction(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("d")
            canvas = app.screen.query_one("#canvas")
            assert canvas.has_focus
            await pilot.press("space", *["down"] * 5, "space")
            assert canvas.pixels.sum() > 10
            await wait_for(pilot, lambda: "Predicted" in str(app.screen.query_one("#draw-verdict").content))
            await pilot.press("delete")
            assert canvas.is_blank

    run(scenario)


def test_draw_with_the_mouse(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("d")
            canvas = app.screen.query_one("#canvas")
            await pilot.mouse_down(canvas, offset=(14, 3))
            await pilot.hover(canvas, offset=(14, 12))
            await pilot.mouse_up(canvas, offset=(14, 12))
            column = canvas.pixels[:, 13]
            assert column[6:22].min() > 0.5  # one continuous stroke from row 3 to row 12 (pixels 6-25)
            await wait_for(pilot, lambda: "Predicted" in str(app.screen.query_one("#draw-verdict").content))

    run(scenario)


def test_open_an_image_file(make_app, tmp_path):
    from PIL import Image

    picture = np.full((60, 40), 255, np.uint8)
    picture[10:50, 18:23] = 0  # a dark "1" on white paper
    path = tmp_path / "one.png"
    Image.fromarray(picture).save(path)

    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("o")
            await pilot.press(*str(path), "enter")
            await wait_for(pilot, lambda: "from" in str(app.screen.query_one("#draw-verdict").content))
            assert app.screen.query_one("#canvas").pixels.max() > 0.9

    run(scenario)


def test_generate_then_save_png_and_npz(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("g")
            screen = app.screen
            screen.query_one("#gen-spec", Input).value = "3+8"
            screen.query_one("#gen-count", Input).value = "4"
            screen.query_one("#gen-steps", Input).value = "10"
            await pilot.press("r")
            await wait_for(pilot, lambda: screen.results)
            assert screen.results[0].images.shape == (4, 28, 28)
            assert screen.query_one("#gen-plot").series["mean"][0]  # confidence plotted per step
            await pilot.press("s")
            exports = paths.export_dir()
            await wait_for(pilot, lambda: exports.is_dir() and len(os.listdir(exports)) == 3
                           and all(p.stat().st_size for p in exports.iterdir()))  # written, not just reserved
            assert sorted(p.suffix for p in exports.iterdir()) == [".gif", ".npz", ".png"]
            assert str(exports) in str(screen.query_one("#gen-hint").content)

    run(scenario)


def test_with_the_shipped_weights_the_generate_screen_decides_with_the_shipped_decider(make_app, tmp_path,
                                                                                      monkeypatch, seeded_weights):
    """The shipped CNN reads (the header's CNN); generation takes assets/decider.pt, told apart here by
    its output units: only the decider has a unit 11."""
    import shutil

    import torch

    from digittui import checkpoints
    from digittui.modelconfig import CNNConfig
    from digittui.models import CNN

    torch.manual_seed(0)
    checkpoints.save(tmp_path / "cnn.pt", "cnn", CNN(CNNConfig(num_outputs=10)).eval(),
                     metrics={"test_accuracy": 0.5})
    shutil.copy(seeded_weights["cnn"], tmp_path / "decider.pt")
    shutil.copy(seeded_weights["vae"], tmp_path / "vae.pt")
    monkeypatch.setattr("digittui.paths.assets_dir", lambda: tmp_path)

    async def scenario():
        app = make_app(cnn=None, vae=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            assert "CNN 50.00% shipped" in app.models_status
            await pilot.press("g")
            screen = app.screen
            screen.query_one("#gen-spec", Input).value = "class:11"
            screen.query_one("#gen-count", Input).value = "1"
            screen.query_one("#gen-steps", Input).value = "2"
            await pilot.press("r")
            await wait_for(pilot, lambda: screen.results)
            assert screen.results[0].request.text == "class:11"

    run(scenario)


def test_random_starts_show_the_journey(make_app):
    """Start: random, chosen with the mouse and the keys; the images change while the optimization runs; a
    sample's filmstrip (by j and its number, or by a click on it) holds its frames from step 0 to the
    result, the CNN's confidence under each; the saved GIF has the same frames."""
    from PIL import Image

    async def scenario():
        app = make_app()
        async with app.run_test(size=(100, 40)) as pilot:
            await ready(pilot)
            await pilot.press("g")
            screen = app.screen
            await pilot.click("#gen-init")  # opens the list at the current value, picked
            await pilot.press("up", "enter")
            await wait_for(pilot, lambda: screen.query_one("#gen-init", Select).value == "random")
            screen.query_one("#gen-count", Input).value = "3"
            screen.query_one("#gen-steps", Input).value = "12"
            shown, drawn = [], threading.Event()
            grid = screen.query_one("#gen-grid")
            original = grid.update
            grid.update = lambda images, captions=None, columns=None: (shown.append(np.stack(images)), drawn.set(),
                                                                      original(images, captions, columns))

            class FirstStepWaits(collections.deque):
                """The worker waits after its first step until the screen has drawn it: a short run on a
                fast machine would otherwise end before the screen's first 4 Hz refresh."""

                def append(self, step) -> None:
                    super().append(step)
                    drawn.wait(10)

            screen.steps = FirstStepWaits()
            await pilot.click("#generate")
            await wait_for(pilot, lambda: screen.results)
            (result,) = screen.results
            assert result.trajectory_steps[0] == 0 and len(shown) >= 2
            assert not np.allclose(shown[0], shown[-1])  # the samples changed on screen
            await pilot.click("#journey")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
            await pilot.press("backspace", "2", "enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "FilmstripScreen")
            strip = app.screen.strip
            assert len(strip.frames) == len(result.trajectory_steps) and strip.steps == result.trajectory_steps
            np.testing.assert_allclose(strip.frames, result.trajectory[:, 1].numpy())
            np.testing.assert_allclose(strip.confidence, result.trajectory_confidence[:, 1].numpy())
            assert f"{strip.steps[-1]}: {result.confidence[1]:.2f}" in app.screen.query_one("#filmstrip-grid")._captions
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is screen)
            zoom, columns = grid._layout(grid.content_size.width)
            cell = scaled_size(grid._images[0].shape, zoom)[0] + grid.gap
            assert columns >= 3
            await pilot.click("#gen-grid", offset=(cell - 1, 1))  # the gap after sample 1: nothing opens
            await pilot.pause()
            assert app.screen is screen
            await pilot.click("#gen-grid", offset=(2 * cell + 3, 2))  # sample 3, clicked
            await wait_for(pilot, lambda: type(app.screen).__name__ == "FilmstripScreen")
            np.testing.assert_allclose(app.screen.strip.frames, result.trajectory[:, 2].numpy())
            await pilot.press("escape")
            await wait_for(pilot, lambda: app.screen is screen)
            await pilot.press("s")
            exports = paths.export_dir()
            await wait_for(pilot, lambda: exports.is_dir() and len(os.listdir(exports)) == 3)
            with Image.open(next(exports.glob("*.gif"))) as gif:
                assert gif.n_frames == len(result.trajectory_steps)

    run(scenario)


def test_journey_asks_again_for_a_sample_that_does_not_exist(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("g")
            screen = app.screen
            screen.query_one("#gen-count", Input).value = "2"
            screen.query_one("#gen-steps", Input).value = "2"
            await pilot.press("r")
            await wait_for(pilot, lambda: screen.results and not screen.query_one("#journey").disabled)
            await pilot.press("j", "backspace", "9", "enter")
            await wait_for(pilot, lambda: "from 1 to 2" in str(screen.query_one("#gen-status").content))
            assert app.screen is screen

    run(scenario)


def test_generate_reports_a_bad_request(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("g")
            app.screen.query_one("#gen-spec", Input).value = "12"
            await pilot.press("r")
            await wait_for(pilot, lambda: "ambiguous" in str(app.screen.query_one("#gen-status").content))

    run(scenario)


def test_morph_between_two_digits(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("g")
            app.screen.query_one("#gen-steps", Input).value = "3"
            await pilot.press("m", "3", ",", "8", "enter")
            await wait_for(pilot, lambda: "Morph 3 → 8" in str(app.screen.query_one("#gen-status").content))

    run(scenario)


def test_explore_map_pan_and_random_samples(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("e")
            screen = app.screen
            await wait_for(pilot, lambda: screen.map is not None)
            assert len(screen.map.points) == 64  # the whole tiny test set
            grid = screen.query_one("#explore-grid")
            await wait_for(pilot, lambda: grid._images)
            await pilot.press("right", "up")
            assert (screen.view.x, screen.view.y) == (0.75, 0.75)
            await pilot.press("minus")
            assert screen.view.extent > 1.5
            from digittui.latent import sample_prior

            await pilot.press("r")
            assert "Random z ~ N(0, I), seed 1" in str(screen.query_one("#explore-status").content)
            shown = len(grid._images)  # the grid keeps its size: the same number of samples
            expected = sample_prior(app.models.vae.model, shown, seed=1)[1].numpy()
            await wait_for(pilot, lambda: len(grid._images) == shown
                           and np.allclose(np.stack(grid._images), expected, atol=1e-6))

    run(scenario)


def test_every_binding_is_in_the_command_palette(make_app):
    """Each screen's bindings that can run now are commands (the others come once they can), and a
    command runs when picked in the palette."""
    from textual.command import CommandPalette

    def palette():
        return {c.title for c in app.get_system_commands(app.screen)}

    async def scenario():
        nonlocal app
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            for mode, screen_class in app.MODES.items():
                await pilot.press(next(b.key for b in app.BINDINGS if f"'{mode}'" in b.action))
                await wait_for(pilot, lambda: isinstance(app.screen, screen_class))
                usable = {b.description for b in screen_class.BINDINGS if isinstance(b, Binding) and b.description
                          and app.screen.check_action(b.action.split("(")[0], ()) is not False}
                assert (usable or mode == "help") and usable <= palette(), (mode, usable - palette())
                assert {f"Go to {m.title()}" for m in app.MODES} <= palette()
            await start_long_training(pilot)
            await wait_for(pilot, lambda: {"Pause/resume", "Stop"} <= palette() and "Start" not in palette())
            await pilot.press("x")
            await wait_for(pilot, lambda: not app.training)
            await pilot.press("ctrl+p")
            await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
            for key in "go to explore":
                await pilot.press("space" if key == " " else key)
            await pilot.pause(0.5)
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ExploreScreen")

    app = None
    run(scenario)


def test_screens_keep_their_state(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            browser = app.screen.query_one("#browser")
            await wait_for(pilot, lambda: browser.verdicts is not None)
            await pilot.press("right", "right", "right", "question_mark", "c")
            assert app.screen.query_one("#browser").current == 3

    run(scenario)


def test_open_an_image_from_the_tree_or_a_completed_path(make_app, tmp_path, monkeypatch):
    """The tree lists folders and images only; a typed path completes with → to an image."""
    from PIL import Image

    from digittui.tui.screens.open_image import complete_path

    picture = np.full((60, 40), 255, np.uint8)
    picture[10:50, 18:23] = 0
    work = tmp_path / "work"
    (work / "scans").mkdir(parents=True)
    Image.fromarray(picture).save(work / "scans" / "one.png")
    (work / "scans" / "notes.txt").write_text("not an image")
    monkeypatch.chdir(work)
    assert complete_path("sc") == "scans/" and complete_path("scans/o") == "scans/one.png"
    assert complete_path("scans/n") is None  # not an image

    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("o")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "OpenImageScreen")
            field = app.screen.query_one("#open-path")
            for key in "sc":
                await pilot.press(key)
            await wait_for(pilot, lambda: field._suggestion == "scans/")
            await pilot.press("right", "o")
            await wait_for(pilot, lambda: field._suggestion == "scans/one.png")
            await pilot.press("right", "enter")
            await wait_for(pilot, lambda: "from scans/one.png" in str(app.screen.query_one("#draw-verdict").content))

            await pilot.press("o")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "OpenImageScreen")
            tree = app.screen.query_one("#open-tree")
            await pilot.press("tab")
            assert tree.has_focus
            await wait_for(pilot, lambda: [n.label.plain for n in tree.root.children] == ["scans"])
            await pilot.press("down", "enter")  # expand scans/
            await wait_for(pilot, lambda: tree.root.children[0].children)
            assert [n.label.plain for n in tree.root.children[0].children] == ["one.png"]  # no notes.txt
            await pilot.press("down", "enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ClassifyScreen")
            await wait_for(pilot, lambda: str(work / "scans" / "one.png") in
                           str(app.screen.query_one("#draw-verdict").content))

    run(scenario)


def test_save_in_a_browser_also_downloads_the_files_there(make_app, monkeypatch):
    """Under `digittui serve` the export folder is on the server: Save hands the PNG and the npz to
    Textual's deliver_binary, which the browser downloads (recorded here: no browser in a test)."""
    from digittui.tui.app import DigitApp

    delivered = []
    monkeypatch.setattr(DigitApp, "is_web", property(lambda self: True))
    monkeypatch.setattr(DigitApp, "deliver_binary", lambda self, path, **kw: delivered.append(path))

    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("g")
            screen = app.screen
            screen.query_one("#gen-count", Input).value = "2"
            screen.query_one("#gen-steps", Input).value = "3"
            await pilot.press("r")
            await wait_for(pilot, lambda: screen.results)
            await pilot.press("s")
            await wait_for(pilot, lambda: len(delivered) == 3)
            assert sorted(p.suffix for p in delivered) == [".gif", ".npz", ".png"] and all(p.is_file() for p in delivered)
            assert "downloaded by your browser" in str(screen.query_one("#gen-status").content)

    run(scenario)
