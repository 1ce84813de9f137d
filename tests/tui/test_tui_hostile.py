"""Hostile input in the TUI: values past their limits are refused with a message before any work,
and paths with brackets are shown as they are, never read as markup."""

from __future__ import annotations

from textual.widgets import Input

from digittui.limits import MAX_SEED

from tests.tui.helpers import ready, run, wait_for


def _messages(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def _generating(app) -> bool:
    return any(w.group == "generate" for w in app.screen.workers)


def test_a_seed_no_generator_takes_is_refused_with_its_range(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("g")
            app.screen.query_one("#gen-seed", Input).value = str(2**70)
            await pilot.press("r")
            await wait_for(pilot, lambda: any(m.startswith("Seed:") and f"0 to {MAX_SEED:,}" in m for m in _messages(app)))
            assert not _generating(app)

    run(scenario)


def test_steps_past_the_fields_range_are_refused(make_app):
    async def scenario():
        app = make_app()
        async with app.run_test(size=(80, 24)) as pilot:
            await ready(pilot)
            await pilot.press("g")
            app.screen.query_one("#gen-steps", Input).value = "1000000000"
            await pilot.press("r")
            await wait_for(pilot, lambda: any(m.startswith("Steps:") and "1 to 10,000" in m for m in _messages(app)))
            assert not _generating(app)

    run(scenario)


def test_a_data_path_with_brackets_is_shown_as_it_is(make_app, tmp_path):
    """`[/b]` in a path closed a markup tag that was never opened, and the message crashed."""
    missing = tmp_path / "a[/b]" / "[bold]data"

    async def scenario():
        app = make_app(data_dir=str(missing))
        async with app.run_test(size=(120, 40)) as pilot:
            await ready(pilot)
            message = app.screen.query_one("#browse-message")
            await wait_for(pilot, lambda: "[/b]" in str(message.content))
            assert str(missing / "MNIST" / "raw") in str(message.content)

    run(scenario)
