"""The TUI as a keyboard and mouse user drives it: every button by click, Enter and Space; Escape out
of a text field; Enter in a field; the footer's keys at the smallest supported size."""

from __future__ import annotations

import os

import pytest
from textual.widgets import Button, Input

from digittui import paths
from digittui.tui.jobs import RunState
from tests.tui.helpers import ready, run, wait_for

SCREENS = {"t": "TrainScreen", "c": "ClassifyScreen", "g": "GenerateScreen", "e": "ExploreScreen",
           "question_mark": "HelpScreen"}
APP_KEYS = ["t", "c", "g", "e", "question_mark", "q"]
WAYS = ("click", "enter", "space")


async def activate(pilot, selector: str, way: str) -> None:
    """Press a button as a person does: a mouse click, or focus it and press Enter or Space."""
    button = pilot.app.screen.query_one(selector, Button)
    assert not button.disabled, f"{selector} is disabled"
    if way == "click":
        await pilot.click(selector)
    else:
        button.focus()
        await pilot.pause()
        await pilot.press(way)
    await pilot.pause()


async def keep_weights_in_use(pilot) -> None:
    """A run that saved an epoch ends with the offer of its weights: keep those in use."""
    await pilot.pause(0.2)
    if type(pilot.app.screen).__name__ == "OfferScreen":
        await pilot.press("k")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ != "OfferScreen")


def button_ids(screen) -> set[str]:
    return {button.id for button in screen.query(Button)}


def test_every_screen_is_covered_by_the_button_tests(make_app):
    """A button added to a screen without a test of its own fails here."""

    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            found = {}
            for key, name in SCREENS.items():
                await pilot.press(key)
                assert type(app.screen).__name__ == name
                found[name] = button_ids(app.screen)
            assert found == {"TrainScreen": {"start", "pause", "stop"}, "ClassifyScreen": set(),
                             "GenerateScreen": {"generate", "save", "journey", "morph"}, "ExploreScreen": set(),
                             "HelpScreen": set()}

    run(scenario)


@pytest.mark.parametrize("way", WAYS)
def test_train_buttons_start_pause_resume_and_stop(make_app, way):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("t")
            app.screen.query_one("#train-epochs", Input).value = "500"
            await activate(pilot, "#start", way)
            run_ = app.train_run
            assert run_ is not None and run_.request.epochs == 500
            await wait_for(pilot, lambda: run_.progress is not None and run_.state is RunState.TRAINING)
            await activate(pilot, "#pause", way)
            assert run_.state is RunState.PAUSED and run_.control.paused
            assert str(app.screen.query_one("#pause", Button).label) == "Resume"
            await activate(pilot, "#pause", way)
            assert run_.state is RunState.TRAINING and not run_.control.paused
            await activate(pilot, "#stop", way)
            await wait_for(pilot, lambda: run_.state is RunState.DONE)
            assert run_.finished["cnn"].status == "cancelled"
            await keep_weights_in_use(pilot)
            assert not app.screen.query_one("#start", Button).disabled

    run(scenario)


@pytest.mark.parametrize("way", WAYS)
def test_generate_buttons_run_save_journey_and_morph(make_app, way):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("g")
            screen = app.screen
            screen.query_one("#gen-count", Input).value = "2"
            screen.query_one("#gen-steps", Input).value = "3"
            assert screen.query_one("#save", Button).disabled  # nothing to save yet
            await activate(pilot, "#generate", way)
            await wait_for(pilot, lambda: screen.results)
            await wait_for(pilot, lambda: not screen.query_one("#save", Button).disabled)
            await activate(pilot, "#save", way)
            exports = paths.export_dir()
            await wait_for(pilot, lambda: exports.is_dir() and len(os.listdir(exports)) == 3)
            await activate(pilot, "#journey", way)  # the prompt offers sample 1: Enter takes it
            await wait_for(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
            await pilot.press("enter")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "FilmstripScreen")
            await activate(pilot, "#filmstrip-close", way)
            await wait_for(pilot, lambda: app.screen is screen)
            await activate(pilot, "#morph", way)
            await wait_for(pilot, lambda: type(app.screen).__name__ == "PromptScreen")
            for key in "3,8":
                await pilot.press(key)
            await pilot.press("enter")
            await wait_for(pilot, lambda: "Morph 3 → 8" in str(screen.query_one("#gen-status").content))

    run(scenario)


@pytest.mark.parametrize("way", WAYS)
def test_quit_dialog_buttons(make_app, way):
    """No keeps training; Yes stops it and quits."""

    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("t")
            app.screen.query_one("#train-epochs", Input).value = "500"
            await pilot.press("s")
            await pilot.press("q")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await activate(pilot, "#no", way)
            assert type(app.screen).__name__ == "TrainScreen" and app.training
            await pilot.press("q")
            await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await activate(pilot, "#yes", way)
            await wait_for(pilot, lambda: not app.is_running)
        assert not app.training

    run(scenario)


async def type_into(pilot, selector: str, text: str) -> None:
    """Click a field and type, one key at a time (a burst can reach an Input out of order)."""
    await pilot.click(selector)
    await pilot.press("end")
    for key in text:
        await pilot.press(key)


def test_escape_leaves_a_generate_field_and_gives_the_keys_back(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("g")
            screen = app.screen
            await type_into(pilot, "#gen-steps", "3")
            await type_into(pilot, "#gen-spec", "s")  # in a field, s is text
            assert screen.query_one("#gen-spec", Input).value == "7s"
            await pilot.press("backspace", "escape")
            assert not isinstance(screen.focused, Input)
            await pilot.press("r")  # the screen's keys work again
            await wait_for(pilot, lambda: screen.results)
            assert screen.results[0].request.text == "7" and screen.results[0].steps <= 3
            await pilot.press("s")
            await wait_for(pilot, lambda: paths.export_dir().is_dir() and len(os.listdir(paths.export_dir())) == 3)
            assert screen.query_one("#gen-spec", Input).value == "7"
            await pilot.press("t")  # and so do the app's
            assert type(app.screen).__name__ == "TrainScreen"

    run(scenario)


def test_escape_leaves_a_train_field_and_enter_in_a_field_starts(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("t")
            screen = app.screen
            await type_into(pilot, "#train-epochs", "2")
            await pilot.press("escape")
            assert not isinstance(screen.focused, Input)
            await pilot.press("s")
            first = app.train_run
            assert first is not None and first.request.epochs == 2
            await wait_for(pilot, lambda: first.state is RunState.DONE)
            await keep_weights_in_use(pilot)
            await type_into(pilot, "#train-epochs", "0")  # appended: epochs 20
            await pilot.press("backspace", "enter")
            assert app.train_run is not first and app.train_run.request.epochs == 2  # started by Enter
            await wait_for(pilot, lambda: app.train_run.state is RunState.DONE)

    run(scenario)


def footer_keys(screen) -> list:
    return list(screen.query("FooterKey"))


async def footer_drawn(pilot) -> None:
    """The footer recomposes after a focus or screen change: wait until its keys are laid out."""
    await wait_for(pilot, lambda: (keys := footer_keys(pilot.app.screen))
                   and all(k.region.width for k in keys))


def assert_footer_fits(screen, width: int) -> list[str]:
    """The app's keys come first; every key shown is whole, left of the palette's key; returns them."""
    keys = footer_keys(screen)
    palette = [k for k in keys if k.has_class("-command-palette")]
    others = [k for k in keys if not k.has_class("-command-palette")]
    assert [k.key for k in others[:len(APP_KEYS)]] == APP_KEYS
    limit = palette[0].region.x if palette else width
    for key in others:
        assert key.region.width > 0 and key.region.right <= limit, f"{key.key} is cut off"
    return [k.key for k in others]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_footer_shows_the_app_keys_first_on_every_screen(make_app, size):
    async def scenario():
        app = make_app()
        async with app.run_test(size=size) as pilot:
            await ready(pilot)
            for key in SCREENS:
                await pilot.press(key)
                await footer_drawn(pilot)
                shown = assert_footer_fits(app.screen, size[0])
                assert set(APP_KEYS) <= set(shown)
            await pilot.press("g")
            await pilot.click("#gen-spec")
            await wait_for(pilot, lambda: any(k.key == "escape" for k in footer_keys(app.screen)))
            await footer_drawn(pilot)
            keys = {k.key: k for k in footer_keys(app.screen)}
            assert "escape" in keys  # how to get the keys back, while they type into the field
            assert all(keys[k].has_class("-disabled") for k in APP_KEYS)
            assert_footer_fits(app.screen, size[0])
            await pilot.press("escape")
            await wait_for(pilot, lambda: not any(k.key == "escape" for k in footer_keys(app.screen)))
            await footer_drawn(pilot)
            keys = {k.key: k for k in footer_keys(app.screen)}
            assert "escape" not in keys and not any(keys[k].has_class("-disabled") for k in APP_KEYS)

    run(scenario)
