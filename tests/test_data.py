"""Unit tests of MNIST loading, batching and augmentation on tiny synthetic IDX files."""

import gzip
import os
import struct

import pytest
import torch

from digittui.data import add_noise, augment, batches_per_epoch, epoch_batches, load_mnist
from digittui.errors import DataError


def test_loads_split_as_uint8_tensors(tiny_mnist):
    train = load_mnist(tiny_mnist, train=True)
    test = load_mnist(tiny_mnist, train=False)
    assert train.images.shape == (256, 28, 28) and train.images.dtype == torch.uint8
    assert test.labels.shape == (64,) and test.labels.dtype == torch.int64
    x = train.float_images(slice(0, 4))
    assert x.shape == (4, 1, 28, 28) and 0.0 <= x.min() and x.max() == 1.0


def test_gzipped_files_read_like_plain_ones(tiny_mnist, tmp_path):
    import gzip
    import shutil

    raw = tiny_mnist / "MNIST" / "raw"
    zipped = tmp_path / "zipped"
    (zipped / "MNIST" / "raw").mkdir(parents=True)
    for path in raw.iterdir():
        (zipped / "MNIST" / "raw" / f"{path.name}.gz").write_bytes(gzip.compress(path.read_bytes()))
    plain, from_gz = load_mnist(tiny_mnist, download=False), load_mnist(zipped, download=False)
    assert torch.equal(plain.images, from_gz.images) and torch.equal(plain.labels, from_gz.labels)
    shutil.rmtree(raw)  # a broken .gz is damage, reported with the remedy
    (zipped / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b not gzip")
    with pytest.raises(DataError, match="damaged.*Delete"):
        load_mnist(zipped, download=False)


def test_reading_files_present_does_not_import_torchvision(tiny_mnist):
    """torchvision costs ~2 s to import: only a download may need it."""
    import subprocess
    import sys

    code = ("import sys; from digittui.data import load_mnist; "
            f"load_mnist({str(tiny_mnist)!r}, download=False); print('torchvision' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_files_are_downloaded_then_read(tmp_path, monkeypatch):
    """The download goes through torchvision (faked here: no network), which leaves the plain files."""
    import sys
    import types

    from tests.mnist_files import make_mnist

    calls = []

    class FakeMNIST:
        def __init__(self, root, train, download):
            calls.append((train, download))
            make_mnist(tmp_path / "fresh")

    fake = types.ModuleType("torchvision")
    fake.datasets = types.SimpleNamespace(MNIST=FakeMNIST)
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    digits = load_mnist(tmp_path / "fresh", train=False)
    assert calls == [(False, True)] and digits.images.shape == (64, 28, 28)
    load_mnist(tmp_path / "fresh", train=False)
    assert len(calls) == 1, "files on disk are read, not fetched again"


def test_missing_data_offline_names_files_and_remedies(tmp_path):
    with pytest.raises(DataError) as info:
        load_mnist(tmp_path / "nowhere", download=False)
    msg = str(info.value)
    assert "train-images-idx3-ubyte" in msg and "--data-dir" in msg and "DIGITTUI_DATA" in msg


def test_truncated_image_file_is_reported(tiny_mnist):
    path = tiny_mnist / "MNIST" / "raw" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DataError, match="damaged|truncated"):
        load_mnist(tiny_mnist, download=False)


def test_labels_and_images_of_different_lengths(tiny_mnist):
    from tests.mnist_files import synthetic_digits, write_idx

    _, labels = synthetic_digits(100, 0)
    write_idx(tiny_mnist / "MNIST" / "raw" / "train-labels-idx1-ubyte", labels)
    with pytest.raises(DataError, match="256 images but 100 labels"):
        load_mnist(tiny_mnist, download=False)


def test_epoch_batches_cover_every_index_once_and_repeat_with_seed():
    first = list(epoch_batches(10, 3, torch.Generator().manual_seed(5), "cpu"))
    again = list(epoch_batches(10, 3, torch.Generator().manual_seed(5), "cpu"))
    assert [b.tolist() for b in first] == [b.tolist() for b in again]
    assert len(first) == batches_per_epoch(10, 3) == 3  # the last partial batch is dropped
    assert len(set(torch.cat(first).tolist())) == 9


def test_augment_keeps_shape_and_depends_only_on_seed():
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, 10:18, 12:16] = 1.0
    a = augment(x, torch.Generator().manual_seed(0))
    b = augment(x, torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b)
    assert not torch.equal(a, x)
    assert a.sum(dim=(1, 2, 3)).sub(x.sum(dim=(1, 2, 3))).abs().max() < 0.35 * x[0].sum()


# Hostile files: read only what the format allows, never hang ------------------------------------

def _raw(root):
    return root / "MNIST" / "raw"


def _replace(root, name, make):
    target = _raw(root) / name
    target.unlink()
    make(target)
    return target


@pytest.mark.parametrize("make, said", [
    (os.mkfifo, "FIFO"),  # opened without waiting for a writer: no hang
    (lambda p: p.symlink_to("/dev/zero"), "character device"),  # never read
    (lambda p: p.mkdir(), "folder"),
])
def test_special_files_are_refused_for_what_they_are(tiny_mnist, make, said):
    _replace(tiny_mnist, "train-images-idx3-ubyte", make)
    with pytest.raises(DataError, match=f"it is a {said}"):
        load_mnist(tiny_mnist, download=False)


def test_a_gz_inflating_past_its_header_is_cut_off(tiny_mnist, monkeypatch):
    """A small .gz that inflates far beyond what its header promises is not inflated past it."""
    header = struct.pack(">HBB3I", 0, 8, 3, 16, 28, 28)
    target = _raw(tiny_mnist) / "train-images-idx3-ubyte"
    target.unlink()
    bomb = gzip.compress(header + bytes(16 * 784) + bytes(50_000_000), compresslevel=9)  # ~50 kB
    (target.parent / "train-images-idx3-ubyte.gz").write_bytes(bomb)
    inflated = []
    real_read = gzip.GzipFile.read
    monkeypatch.setattr(gzip.GzipFile, "read", lambda self, n=-1: inflated.append(n) or real_read(self, n))
    with pytest.raises(DataError, match="longer than its header says"):
        load_mnist(tiny_mnist, download=False)
    assert -1 not in inflated and sum(inflated) <= 16 * 784 + 100


@pytest.mark.parametrize("shape, said", [
    ((200_000, 28, 28), r"more than MNIST holds"),  # refused from the header, nothing read
    ((0, 28, 28), "holds no images"),
])
def test_sizes_outside_mnist_are_refused(tiny_mnist, shape, said):
    target = _raw(tiny_mnist) / "train-images-idx3-ubyte"
    target.write_bytes(struct.pack(">HBB3I", 0, 8, 3, *shape))
    if shape[0] == 0:
        (_raw(tiny_mnist) / "train-labels-idx1-ubyte").write_bytes(struct.pack(">HBBI", 0, 8, 1, 0))
    with pytest.raises(DataError, match=said):
        load_mnist(tiny_mnist, download=False)


def test_a_255_dimension_header_is_refused_briefly(tiny_mnist):
    target = _raw(tiny_mnist) / "train-images-idx3-ubyte"
    target.write_bytes(bytes([0, 0, 8, 255]) + struct.pack(">255I", *([60000] * 255)))
    with pytest.raises(DataError, match="255 dimensions") as info:
        load_mnist(tiny_mnist, download=False)
    assert len(str(info.value)) < 400  # not the 600-digit product of its sizes


def test_an_unreadable_data_folder_is_named(tiny_mnist, monkeypatch):
    """As root, permissions cannot be taken away: os.stat fails as it does for another user."""
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if str(path) == str(_raw(tiny_mnist)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    with pytest.raises(DataError, match="cannot read the data folder .*permission denied"):
        load_mnist(tiny_mnist, download=True)  # refused before any download is tried


def test_add_noise_draws_a_deviation_per_image_up_to_the_most():
    x = torch.full((64, 1, 28, 28), 0.5)
    a = add_noise(x, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(a, add_noise(x, 0.5, torch.Generator().manual_seed(0)))
    spread = (a - x).flatten(1).std(1)  # [64]: each image's own deviation, measured over 784 pixels
    assert float(spread.max()) < 0.5 * 1.15 and float(spread.min()) < 0.1  # some nearly clean
    assert float(spread.median()) == pytest.approx(0.25, abs=0.06)  # uniform in [0, 0.5]
