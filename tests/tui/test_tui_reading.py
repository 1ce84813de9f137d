"""The Classify screen reads numbers: a wide canvas, boxes on the digits, the number and the verdicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.tui.helpers import ready, run, wait_for

SHIPPED_CNN = Path(__file__).resolve().parents[2] / "assets" / "cnn.pt"


def _verdict(app) -> str:
    return str(app.screen.query_one("#draw-verdict").content)


def test_two_strokes_on_the_wide_canvas_read_as_a_number(make_app):
    async def scenario():
        app = make_app(cnn=str(SHIPPED_CNN))
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press("d")
            canvas = app.screen.query_one("#canvas")
            assert canvas.pixels.shape == (28, 56)
            for column in (12, 40):  # two upright strokes, far apart: "11"
                await pilot.mouse_down(canvas, offset=(column + 1, 3))
                await pilot.hover(canvas, offset=(column + 1, 12))
                await pilot.mouse_up(canvas, offset=(column + 1, 12))
            await wait_for(pilot, lambda: "Read 11" in _verdict(app))
            assert len(canvas.boxes) == 2 and canvas.boxes[0][0] < 14 < 38 < canvas.boxes[1][0]
            await pilot.press("delete")
            assert canvas.boxes == [] and canvas.is_blank

    run(scenario)


def test_an_opened_number_gets_boxes_and_is_read(make_app, tmp_path):
    from PIL import Image, ImageDraw, ImageFont
    import matplotlib

    font = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), 60)
    picture = Image.new("L", (300, 100), 255)
    ImageDraw.Draw(picture).text((20, 10), "2026", fill=0, font=font)
    path = tmp_path / "number.png"
    picture.save(path)

    async def scenario():
        app = make_app(cnn=str(SHIPPED_CNN))
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press("o")
            await pilot.press(*str(path), "enter")
            await wait_for(pilot, lambda: "Read 2026" in _verdict(app))
            canvas = app.screen.query_one("#canvas")
            assert len(canvas.boxes) == 4
            lefts = [box[0] for box in canvas.boxes]
            assert lefts == sorted(lefts) and canvas.pixels.max() > 0.5

    run(scenario)


def test_scribbles_are_not_digits_with_a_strict_threshold(make_app, tmp_path):
    """A checkpoint whose calibration calls everything below 99.99% 'not a digit'."""
    from digittui import checkpoints

    strict = tmp_path / "strict.pt"
    ckpt = checkpoints.load(SHIPPED_CNN)
    checkpoints.save(strict, "cnn", ckpt.model, calibration={"temperature": 5.0, "not_a_digit_below": 0.9999,
                                                             "fitted_on": "test"})

    async def scenario():
        app = make_app(cnn=str(strict))
        async with app.run_test(size=(100, 30)) as pilot:
            await ready(pilot)
            await pilot.press("d")
            await pilot.press("space", *["down"] * 5, *["right"] * 6, *["up"] * 3, "space")
            await wait_for(pilot, lambda: "not a digit" in _verdict(app))
            assert np.asarray(app.screen.query_one("#canvas").pixels).sum() > 10

    run(scenario)
