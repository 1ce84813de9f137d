"""Event-loop lag of the TUI while a CNN trains, against a naive way of wiring training to a UI.

Runs the app headless (App.run_test) on the real MNIST, starts training from the Train screen, and
for SECONDS after the first progress report measures how late a 20 ms asyncio sleep on the app's
event loop wakes up. Four wirings, one after the other in the same process:

    digittui    the app as it is: the worker appends engine events to a deque (never waiting for the
                UI), a progress event every 20 steps, and the UI folds them in on a 4 Hz timer
    naive       the pattern a first Textual app tends to use: every step reports (a loss read back
                with .item(), which waits for the step), and the worker hands each report to the UI
                with App.call_from_thread, which waits until the UI has applied it and redrawn
    every_step  one of naive's two changes alone: every step reports, handed over through the deque
    blocking    the other alone: a report every 20 steps, handed over with App.call_from_thread

Each run opens the Train screen and waits PICK seconds (a user choosing options) before starting;
`started_s` is the time from Start until the screen shows the run training (data loaded, model and
optimizer built, the first step about to run).

Prints one JSON line: p50/p99/max lag in ms, training steps/s and started_s for each, and the ratios.

    DIGITTUI_DATA=/path/to/data python benchmarks/tui_lag.py [--seconds 20] [--device cpu] [--no-baseline]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time

TICK = 0.02
PICK = 3.0  # seconds on the Train screen before Start


# wiring -> (steps between progress reports, hand each report over with call_from_thread)
WIRINGS = {"digittui": (20, False), "naive": (1, True), "every_step": (1, False), "blocking": (20, True)}


def rewired_training(app, log_every: int, blocking: bool):
    """A replacement for digittui.tui.jobs.run_training with another wiring (see the docstring)."""
    from digittui.events import TrainControl
    from digittui.train import TrainConfig, train

    def run_training(run, data_dir) -> None:
        run.control = TrainControl()
        request = run.request

        def show(event) -> None:  # on the UI thread
            run.apply(event)
            app.train_changed.publish(run)

        config = TrainConfig(kind="cnn", epochs=request.epochs, device=request.device, log_every=log_every)
        on_event = (lambda event: app.call_from_thread(show, event)) if blocking else run.events.append
        train(config, data_dir, run.output["cnn"], control=run.control, on_event=on_event)

    return run_training


async def measure(seconds: float, device: str, wiring: str) -> dict:
    from digittui.tui import jobs
    from digittui.tui.app import DigitApp

    app = DigitApp(device=device)
    original = jobs.run_training
    if wiring != "digittui":
        jobs.run_training = rewired_training(app, *WIRINGS[wiring])
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("t")
            await asyncio.sleep(PICK)
            pressed = time.perf_counter()
            app.start_training(jobs.TrainRequest(kinds=("cnn",), epochs=5 if device == "cpu" else 50,
                                                 device=device))
            run = app.train_run
            while run.state is jobs.RunState.STARTING:
                await asyncio.sleep(0.01)
            started_s = time.perf_counter() - pressed
            while run.progress is None:
                if not run.active:
                    raise SystemExit(f"training ended before it started: {run.error or run.log}")
                await asyncio.sleep(0.1)
            first_step, start = run.progress.step, time.perf_counter()
            lags = []
            while time.perf_counter() - start < seconds:
                before = time.perf_counter()
                await asyncio.sleep(TICK)
                lags.append((time.perf_counter() - before - TICK) * 1000)
            steps = run.progress.step - first_step
            elapsed = time.perf_counter() - start
            app.stop_training()
            while run.active:
                await asyncio.sleep(0.05)
    finally:
        jobs.run_training = original
    lags.sort()
    return {"lag_p50_ms": round(statistics.median(lags), 2), "lag_p99_ms": round(lags[int(0.99 * (len(lags) - 1))], 2),
            "lag_max_ms": round(lags[-1], 2), "steps_per_s": round(steps / elapsed, 1), "seconds": round(elapsed, 1),
            "samples": len(lags), "started_s": round(started_s, 2)}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time per wiring (default: 20)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also measure the naive wiring and each of its two changes alone (default: on)")
    args = parser.parse_args()
    os.environ.setdefault("DIGITTUI_HOME", tempfile.mkdtemp(prefix="digittui-bench-"))  # not your checkpoints
    result = {"benchmark": "tui_lag", "device": args.device, "batch_size": 128,
              "digittui": await measure(args.seconds, args.device, "digittui")}
    if args.baseline:
        ours = result["digittui"]
        for wiring in ("naive", "every_step", "blocking"):
            other = result[wiring] = await measure(args.seconds, args.device, wiring)
            other["p99_lag_ratio"] = round(other["lag_p99_ms"] / max(ours["lag_p99_ms"], 1e-9), 2)
            other["steps_per_s_ratio"] = round(ours["steps_per_s"] / max(other["steps_per_s"], 1e-9), 2)
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
