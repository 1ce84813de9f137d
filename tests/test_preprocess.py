"""Image files become MNIST-style digits; every unusable file gives a message, not a traceback."""

import numpy as np
import pytest
from PIL import Image

from digittui.errors import ImageError
from digittui.preprocess import load_digit, load_image, to_mnist


def _seven(size=(120, 90), ink=0, paper=255) -> np.ndarray:
    """A thick dark '7' on light paper, off-centre in a large canvas."""
    a = np.full((size[0], size[1]), paper, dtype=np.uint8)
    a[20:30, 10:60] = ink  # top bar
    for i in range(60):  # diagonal stroke
        a[30 + i, 50 - i // 2: 58 - i // 2] = ink
    return a


def test_dark_on_light_is_inverted_cropped_scaled_and_centred(tmp_path):
    Image.fromarray(_seven()).save(tmp_path / "seven.png")
    d = load_digit(tmp_path / "seven.png")
    assert d.shape == (28, 28) and d.dtype == np.float32
    assert d.max() == pytest.approx(1.0, abs=0.02) and d[0, 0] == 0.0  # light ink on dark
    rows, cols = np.flatnonzero(d.max(1) > 0.1), np.flatnonzero(d.max(0) > 0.1)
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (19, 20, 21)  # fitted to the 20x20 box
    ys, xs = np.indices(d.shape)
    assert abs((ys * d).sum() / d.sum() - 13.5) <= 1 and abs((xs * d).sum() / d.sum() - 13.5) <= 1


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "I;16", "RGB", "1"])
def test_image_modes_give_the_same_digit(tmp_path, mode):
    gray = Image.fromarray(_seven())
    reference = to_mnist(1.0 - np.asarray(gray, dtype=np.float32) / 255)
    if mode == "RGBA":  # dark ink on a transparent background
        img = Image.new("RGBA", gray.size, (0, 0, 0, 0))
        img.putalpha(Image.fromarray(255 - _seven()))
    elif mode == "I;16":
        img = Image.fromarray(_seven().astype(np.uint16) * 257)
    else:
        img = gray.convert(mode)
    img.save(tmp_path / "d.png")
    assert np.abs(load_digit(tmp_path / "d.png") - reference).mean() < 0.02


@pytest.mark.parametrize("content,message", [
    (b"", "empty"),
    (b"this is not an image at all", "not an image"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image|cannot decode"),
])
def test_unusable_files_are_refused_with_the_file_name(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message) as info:
        load_digit(path)
    assert str(path) in str(info.value)


def test_blank_and_missing_images(tmp_path):
    Image.new("L", (50, 50), 255).save(tmp_path / "blank.png")
    with pytest.raises(ImageError, match="blank"):
        load_digit(tmp_path / "blank.png")
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "absent.png")


def test_huge_images_are_refused_before_decoding(tmp_path, monkeypatch):
    import digittui.preprocess as pre

    Image.new("L", (300, 300), 0).save(tmp_path / "big.png")
    monkeypatch.setattr(pre, "MAX_PIXELS", 10_000)
    with pytest.raises(ImageError, match="too large"):
        load_digit(tmp_path / "big.png")
