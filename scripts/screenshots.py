"""Save one SVG screenshot per screen under docs/ for the README, with the weights and MNIST the
app would use (DIGITTUI_DATA; the weights in use: the shipped ones until you choose others).

    DIGITTUI_DATA=/path/to/data python scripts/screenshots.py [--out docs] [--size 100x32] [--cnn F --vae F]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from textual.widgets import Input


async def wait_for(pilot, condition, timeout: float = 120.0) -> None:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"waited {timeout:.0f} s for {condition}")
        await pilot.pause(0.1)


async def settle(pilot) -> None:
    await wait_for(pilot, lambda: not any(w.is_running for w in pilot.app.workers if w.group != "train"))
    await pilot.pause(0.3)


async def shoot(out: Path, size: tuple[int, int], cnn: str | None, vae: str | None) -> list[Path]:
    from digittui.tui.app import DigitApp

    app = DigitApp(cnn=cnn, vae=vae)
    saved = []
    async with app.run_test(size=size) as pilot:
        def save(name: str) -> None:
            saved.append(Path(app.save_screenshot(f"{name}.svg", str(out))))

        await wait_for(pilot, lambda: app.models is not None and
                       (app.test_set is not None or app.test_set_error is not None))
        if app.models.errors or app.test_set_error:
            raise SystemExit("\n".join([*app.models.errors.values(), app.test_set_error or ""]).strip())
        await settle(pilot)
        await pilot.press("m", "right")
        save("classify")
        await pilot.press("x")
        save("confusion")
        await pilot.press("d", "space", *["down"] * 8, "space")
        await settle(pilot)
        save("draw")
        await pilot.press("g")
        app.screen.query_one("#gen-spec", Input).value = "2026"
        await pilot.press("r")
        await wait_for(pilot, lambda: app.screen.results)
        save("generate")
        await pilot.press("e")
        await wait_for(pilot, lambda: app.screen.map is not None)
        await settle(pilot)
        save("explore")
        await pilot.press("t")
        save("train")
        await pilot.press("question_mark")
        save("help")
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--size", default="100x32", help="terminal COLUMNSxROWS (default 100x32)")
    parser.add_argument("--cnn", help="CNN checkpoint (default: the weights in use)")
    parser.add_argument("--vae", help="VAE checkpoint (default: the weights in use)")
    args = parser.parse_args()
    columns, rows = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(shoot(args.out, (columns, rows), args.cnn, args.vae)):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
