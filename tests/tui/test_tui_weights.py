"""Weights in the TUI: the header names those in use with their test metric; after a run the user
chooses between the new and the old; w lists everything kept and switches."""

from __future__ import annotations

from datetime import datetime

from textual.widgets import DataTable

from digittui import checkpoints, paths, weights
from digittui.models import CNN
from tests.tui.helpers import ready, run, wait_for

WHEN = datetime(2026, 1, 2, 3, 4, 5)


def shipped(kind: str) -> str:
    """The shipped weights' test metric as the app shows it (the shipped files may be retrained)."""
    return weights.METRICS[kind].format(checkpoints.load(paths.shipped_checkpoint(kind)).metrics)


def _kept_cnn_run(accuracy: float):
    kept = weights.new_run("cnn", WHEN)
    checkpoints.save(kept.best, "cnn", CNN().eval(), epoch=1, metrics={"test_accuracy": accuracy})
    checkpoints.save(kept.last, "cnn", CNN().eval(), epoch=2, metrics={"test_accuracy": accuracy - 0.01})
    return kept


def test_the_header_names_the_weights_in_use_with_their_metric(make_app):
    kept = _kept_cnn_run(0.9876)
    weights.choose("cnn", kept.best)

    async def scenario():
        app = make_app(cnn=None, vae=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            assert app.sub_title.startswith(f"CNN 98.76% run 01-02 03:04:05 · VAE {shipped('vae')} shipped")

    run(scenario)


def test_w_lists_the_kept_weights_and_switches(make_app):
    kept = _kept_cnn_run(0.9876)

    async def scenario():
        app = make_app(cnn=None, vae=None)
        async with app.run_test(size=(100, 32)) as pilot:
            await ready(pilot)
            assert f"CNN {shipped('cnn')} shipped" in app.sub_title
            await pilot.press("t", "w")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "WeightsScreen")
            screen = app.screen
            await wait_for(pilot, lambda: screen.rows)
            labels = [(c.kind, c.label) for c in screen.rows]
            assert labels == [("cnn", "shipped"), ("cnn", "run 01-02 03:04:05"),
                              ("cnn", "run 01-02 03:04:05 (last)"), ("vae", "shipped")]
            table = screen.query_one(DataTable)
            assert table.get_row_at(0)[0] == "*" and table.get_row_at(1)[0] == ""
            await pilot.press("down", "enter")  # the run's best
            assert weights.chosen("cnn") == kept.best.resolve()
            assert table.get_row_at(1)[0] == "*" and table.get_row_at(0)[0] == ""
            await pilot.press("escape")
            await wait_for(pilot, lambda: "CNN 98.76% run 01-02 03:04:05" in app.sub_title)

    run(scenario)


def test_deleting_a_run_in_the_list_asks_and_refuses_the_one_in_use(make_app):
    kept = _kept_cnn_run(0.95)
    weights.choose("cnn", kept.best)

    async def scenario():
        app = make_app(cnn=None, vae=None)
        async with app.run_test(size=(100, 32)) as pilot:
            await ready(pilot)
            app.action_weights()
            await wait_for(pilot, lambda: type(app.screen).__name__ == "WeightsScreen" and app.screen.rows)
            screen = app.screen
            await pilot.press("down", "d")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("y")
            assert kept.folder.exists()  # in use: refused, with a message
            await pilot.press("up", "enter", "down", "d")  # use shipped, then delete
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("y")
            await wait_for(pilot, lambda: not kept.folder.exists())
            assert [c.label for c in screen.rows if c.kind == "cnn"] == ["shipped"]

    run(scenario)


def test_after_a_run_worse_weights_are_kept_out_unless_chosen(make_app, monkeypatch):
    """A run whose best is worse than the weights in use: the dialog says so, Keep is the default,
    and the weights in use stay; the run stays kept."""
    from digittui import train as training

    monkeypatch.setattr(training, "cnn_metrics", lambda model, data: {"test_accuracy": 0.5})

    async def scenario():
        app = make_app(cnn=None, vae=None)
        async with app.run_test(size=(100, 32)) as pilot:
            await ready(pilot)
            await pilot.press("t")
            app.screen.query_one("#train-epochs").value = "1"
            await pilot.press("s")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "OfferScreen")
            question = str(app.screen.query_one("Label").content)
            assert "50.00%" in question and f"{shipped('cnn')} (shipped)" in question and "WORSE" in question
            assert app.screen.focused.id == "keep"
            await pilot.press("enter")
            await pilot.pause(0.2)
            assert weights.chosen("cnn") is None and f"CNN {shipped('cnn')} shipped" in app.sub_title
            assert weights.list_runs("cnn") == [app.train_run.runs["cnn"]]

    run(scenario)
