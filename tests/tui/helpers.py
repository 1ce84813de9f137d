"""Helpers for Pilot tests: run a scenario without an async test plugin, poll for conditions."""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())


async def wait_for(pilot, condition: Callable[[], object], timeout: float = 60.0) -> None:
    """Poll `condition` while the app runs; fail after `timeout` seconds."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {condition}")
        await pilot.pause(0.05)


async def ready(pilot) -> None:
    """Models loaded and the test set read (or failed to)."""
    app = pilot.app
    await wait_for(pilot, lambda: app.models is not None
                   and (app.test_set is not None or app.test_set_error is not None))


async def settled(pilot) -> None:
    """Every worker finished and its result shown."""
    app = pilot.app
    await wait_for(pilot, lambda: not any(w.is_running for w in app.workers))
    await pilot.pause(0.1)


async def start_long_training(pilot):
    """From any screen: a 500-epoch CNN run on the Train screen, which a test then pauses or stops."""
    from textual.widgets import Input

    await pilot.press("t")
    pilot.app.screen.query_one("#train-epochs", Input).value = "500"
    await pilot.press("s")
    return pilot.app.train_run
