"""Writing results: files land where asked, read back as written, never escape or overwrite."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from digittui.errors import ExportError
from digittui.export import output_path, safe_output_path, save_gif, save_npz, save_png_grid


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).random((6, 28, 28), dtype=np.float32)


def test_png_grid_written(tmp_path, images):
    path = save_png_grid(tmp_path / "grid.png", images, titles=list("012345"),
                         confidences=[0.9] * 6, title="six")
    with Image.open(path) as png:
        assert png.format == "PNG" and png.width > 100 and png.height > 100


def test_png_grid_of_wide_images_without_captions(tmp_path):
    images = np.zeros((300, 28, 56))
    images[0] = 1.0  # the only bright image: first in the grid, twice as wide as tall
    path = save_png_grid(tmp_path / "wide.png", images)
    with Image.open(path) as png:
        assert png.format == "PNG"
        pixels = np.asarray(png.convert("L"))
    rows, cols = np.nonzero(pixels > 128)  # nothing else is bright: no captions, no title
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    assert width / height == pytest.approx(2.0, rel=0.1)
    assert rows.min() < 0.1 * pixels.shape[0] and cols.min() < 0.1 * pixels.shape[1]  # top left
    # all 300 laid out in a roughly square grid: 13 columns x 24 rows of 56 x 28 (plus gaps)
    assert pixels.shape[1] / width == pytest.approx(13, rel=0.1)
    assert pixels.shape[0] / height == pytest.approx(24 * 30 / 28, rel=0.1)


def test_gif_written_and_animated(tmp_path, images):
    frames = np.stack([images * t for t in (0.0, 0.5, 1.0)])  # [3, 6, 28, 28]
    path = save_gif(tmp_path / "anim.gif", frames, scale=2)
    with Image.open(path) as gif:
        assert gif.format == "GIF" and gif.n_frames == 3


def test_npz_round_trip(tmp_path, images):
    import torch

    path = save_npz(tmp_path / "out.npz", torch.from_numpy(images), [3, 3, 3, -1, -1, -1],
                    kinds=np.array(["digit"] * 3 + ["hybrid"] * 3))
    with np.load(path) as data:  # allow_pickle stays off: only plain arrays inside
        np.testing.assert_allclose(data["images"], images)
        assert data["images"].dtype == np.float32
        assert data["targets"].tolist() == [3, 3, 3, -1, -1, -1]
        assert data["kinds"][3] == "hybrid"
    assert path.name == "out.npz"  # numpy did not add a second suffix


def test_npz_refuses_mismatched_targets(tmp_path, images):
    with pytest.raises(ExportError, match="do not match"):
        save_npz(tmp_path / "bad.npz", images, [1, 2])


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "..", "a/../../b", "..\\..\\x",
                                  ".hidden", "", "\x00nul", "3+8 / class:11"])
def test_names_stay_inside(tmp_path, name):
    path = safe_output_path(tmp_path / "out", name, ".png")
    assert path.parent == tmp_path / "out"
    assert path.suffix == ".png" and not path.name.startswith(".")
    assert path.resolve().is_relative_to((tmp_path / "out").resolve())


def test_no_silent_overwrite(tmp_path):
    first = safe_output_path(tmp_path, "grid", ".png")
    first.write_bytes(b"x")
    second = safe_output_path(tmp_path, "grid.png", ".png")
    assert second.name == "grid-1.png"
    second.write_bytes(b"y")
    assert safe_output_path(tmp_path, "grid", "png").name == "grid-2.png"
    assert safe_output_path(tmp_path, "grid", ".png", overwrite=True) == first


def test_output_path_uses_export_dir_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITTUI_EXPORTS", str(tmp_path / "exports"))
    assert output_path(None, "generate-3+8", ".npz") == tmp_path / "exports" / "generate-3+8.npz"
    given = output_path(str(tmp_path / "mine" / "x.npz"), "ignored", ".npz")
    assert given == tmp_path / "mine" / "x.npz"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX permissions, not root")
def test_unwritable_directory(tmp_path, images):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ExportError, match="permission denied"):
            safe_output_path(locked, "grid", ".png")
        with pytest.raises(ExportError, match="cannot create"):
            safe_output_path(locked / "sub", "grid", ".png")
    finally:
        locked.chmod(0o700)


def test_unwritable_directory_message(tmp_path, monkeypatch):
    """The same refusal where permissions cannot be taken away (as root)."""
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(ExportError, match="permission denied"):
        safe_output_path(tmp_path, "grid", ".png")


def test_folder_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ExportError):
        safe_output_path(blocker, "grid", ".png")
    with pytest.raises(ExportError):
        safe_output_path(blocker / "sub", "grid", ".png")


def test_write_failure_becomes_export_error(tmp_path, images):
    target = tmp_path / "grid.png"
    target.mkdir()  # a folder where the file should go: the writer's open() fails
    with pytest.raises(ExportError, match="cannot write"):
        save_npz(target, images, [0] * 6)
    assert target.is_dir() and sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_names_are_reserved_so_concurrent_runs_never_share_one(tmp_path):
    """Two runs choosing a name at the same moment: each gets its own (the first made it exist)."""
    import threading

    chosen, barrier = [], threading.Barrier(8)

    def choose():
        barrier.wait()
        chosen.append(safe_output_path(tmp_path, "same", ".png"))

    threads = [threading.Thread(target=choose) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(chosen)) == 8 and all(p.exists() for p in chosen)


def test_reservations_never_written_are_released_and_written_ones_kept(tmp_path, images):
    from digittui.export import release_reservations

    written = safe_output_path(tmp_path, "kept", ".npz")
    save_npz(written, images, [0] * 6)
    abandoned = safe_output_path(tmp_path, "abandoned", ".png")
    taken_over = safe_output_path(tmp_path, "taken", ".png")
    taken_over.write_bytes(b"someone else's")
    release_reservations()
    assert written.stat().st_size > 0 and not abandoned.exists() and taken_over.read_bytes() == b"someone else's"


def test_overwrite_never_replaces_a_special_file(tmp_path, images):
    os.mkfifo(tmp_path / "grid.png")
    with pytest.raises(ExportError, match="FIFO"):
        safe_output_path(tmp_path, "grid", ".png", overwrite=True)
    assert safe_output_path(tmp_path, "grid", ".png").name == "grid-1.png"  # kept, and avoided


def test_stale_export_temporaries_are_removed(tmp_path, images):
    stale = tmp_path / ".out.npz.tmp-999999999"
    stale.write_bytes(b"torn")
    save_npz(tmp_path / "out.npz", images, [0] * 6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]


def test_a_gif_too_large_for_the_format_is_refused_before_drawing(tmp_path):
    from digittui.errors import LimitError
    from digittui.export import check_gif

    with pytest.raises(LimitError, match="at most 65,535 a side"):
        check_gif(3, 1000, 28, 28, columns=1)  # 1,000 rows of 120 pixels
    check_gif(3, 1000, 28, 28)  # a square grid of the same samples fits
    with pytest.raises(LimitError, match="at most 65,535 a side"):
        save_gif(tmp_path / "tall.gif", np.zeros((2, 1000, 28, 28)), columns=1)
    assert list(tmp_path.iterdir()) == []


def test_releasing_some_reservations_keeps_the_others(tmp_path):
    from digittui.export import release_reservations

    mine, other = safe_output_path(tmp_path, "mine", ".png"), safe_output_path(tmp_path, "other", ".png")
    release_reservations([mine])
    assert not mine.exists() and other.exists()
    release_reservations()
    assert not other.exists()
