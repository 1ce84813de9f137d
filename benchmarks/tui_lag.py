"""Event-loop lag of the TUI while a CNN trains (on the CPU unless a device is named).

Runs the app headless (App.run_test) on the real MNIST, starts training from the Train screen, and
for DURATION seconds after the first progress report measures how late a 20 ms asyncio sleep on the
app's event loop wakes up. Prints one JSON line: p50/p99/max lag in ms, and training steps/s.

    DIGITTUI_DATA=/path/to/data python benchmarks/tui_lag.py [seconds] [device]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

DURATION = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
DEVICE = sys.argv[2] if len(sys.argv) > 2 else "cpu"
TICK = 0.02


async def main() -> dict:
    os.environ.setdefault("DIGITTUI_HOME", tempfile.mkdtemp(prefix="digittui-bench-"))  # not your checkpoints
    from digittui.tui.app import DigitApp
    from digittui.tui.jobs import TrainRequest

    app = DigitApp(device=DEVICE)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("t")
        app.start_training(TrainRequest(kinds=("cnn",), epochs=5 if DEVICE == "cpu" else 50, device=DEVICE))
        run = app.train_run
        while run.progress is None:
            if not run.active:
                raise SystemExit(f"training ended before it started: {run.error or run.log}")
            await asyncio.sleep(0.1)
        first_step, start = run.progress.step, time.perf_counter()
        lags = []
        while time.perf_counter() - start < DURATION:
            before = time.perf_counter()
            await asyncio.sleep(TICK)
            lags.append((time.perf_counter() - before - TICK) * 1000)
        steps = run.progress.step - first_step
        elapsed = time.perf_counter() - start
        app.stop_training()
        while run.active:
            await asyncio.sleep(0.05)
    lags.sort()
    return {"benchmark": "tui_lag", "device": DEVICE, "seconds": round(elapsed, 1), "samples": len(lags),
            "lag_p50_ms": round(statistics.median(lags), 2), "lag_p99_ms": round(lags[int(0.99 * (len(lags) - 1))], 2),
            "lag_max_ms": round(lags[-1], 2), "steps_per_s": round(steps / elapsed, 1),
            "batch_size": run.progress.total_steps and 60000 * run.progress.epochs // run.progress.total_steps}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
