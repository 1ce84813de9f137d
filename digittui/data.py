"""MNIST as uint8 tensors resident on the training device, batched by index, augmented on tensors.

The IDX files are read here; torchvision's `datasets.MNIST` is used only to download missing ones
(importing torchvision costs ~2 s, far more than reading the files). Each split then lives in one
[N, 28, 28] uint8 tensor, so an epoch is a random permutation and a gather: no per-sample PIL
transforms, no DataLoader worker processes.
"""

from __future__ import annotations

import gzip
import math
import os
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

from digittui import safeio
from digittui.errors import DataError
from digittui.paths import DATA_ENV

FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass
class Digits:
    images: torch.Tensor  # uint8 [N, 28, 28], 0 = background, 255 = ink
    labels: torch.Tensor  # int64 [N], 0-9

    def __len__(self) -> int:
        return self.labels.shape[0]

    def to(self, device: torch.device | str) -> "Digits":
        return Digits(self.images.to(device), self.labels.to(device))

    def float_images(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Images as float [B, 1, 28, 28] in [0, 1]."""
        images = self.images if index is None else self.images[index]
        return images.unsqueeze(1).float().div_(255.0)


def _missing_message(raw: Path, train: bool, cause: str, remedy: str) -> str:
    names = ", ".join(FILES[True] + FILES[False])
    return (
        f"MNIST {'training' if train else 'test'} data not found in {raw} ({cause}).\n"
        f"Expected the files {names} (or their .gz) in that folder.\n"
        f"Point digittui at a folder holding MNIST/raw/ with --data-dir DIR or the {DATA_ENV} "
        f"environment variable, {remedy}."
    )


# Bounds from the format: MNIST's files hold 60,000 (training) or 10,000 (test) items of 28x28 bytes.
# A file promising more is refused from its header, before anything is read or inflated.
MAX_ITEMS = 100_000
MAX_DIMENSIONS = 3  # labels [N], images [N, 28, 28]
MAX_IDX_BYTES = MAX_ITEMS * 28 * 28


def read_idx(path: Path, max_bytes: int = MAX_IDX_BYTES) -> torch.Tensor:
    """One IDX file, plain or gzipped, as a uint8 tensor. The format (MNIST's): two zero bytes, the
    type 0x08 (unsigned bytes), the number of dimensions, each size as a big-endian uint32, the data.
    Only a regular file is opened (a FIFO would hang, /dev/zero never end), and no more than its
    header promises, at most `max_bytes`, is read or inflated. Raises DataError for anything else."""
    with safeio.open_regular(path, "MNIST file", DataError) as raw:
        try:
            stream = gzip.GzipFile(fileobj=raw) if path.suffix == ".gz" else raw
            return _read_idx_stream(path, stream, max_bytes)
        except (OSError, EOFError, zlib.error) as exc:  # unreadable, a broken .gz
            raise DataError(f"cannot read {path}: {safeio.reason(exc) if isinstance(exc, OSError) and exc.errno else exc}") from None


def _read_idx_stream(path: Path, stream, max_bytes: int) -> torch.Tensor:
    magic = stream.read(4)
    ndim = magic[3] if len(magic) == 4 else 0
    if magic[:3] != b"\0\0\x08" or ndim == 0:
        raise DataError(f"{path} is not an IDX file of unsigned bytes (its header is {magic!r})")
    if ndim > MAX_DIMENSIONS:
        raise DataError(f"{path} claims {ndim} dimensions; MNIST's IDX files have 1 (labels) or 3 (images)")
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DataError(f"{path} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", sizes)
    size = math.prod(shape)
    if size > max_bytes:
        raise DataError(f"{path} claims {list(shape)} = {size:,} bytes, more than MNIST holds "
                        f"(at most {max_bytes:,}): not an MNIST file")
    data = stream.read(size + 1)  # one byte more than promised tells a longer file
    if len(data) != size:
        raise DataError(f"{path} is {'truncated' if len(data) < size else 'longer than its header says'}: "
                        f"its header promises {size:,} bytes of {list(shape)}, "
                        f"it holds {'more' if len(data) > size else f'{len(data):,}'}")
    if size == 0:  # frombuffer refuses an empty buffer; load_mnist says what an empty split means
        return torch.zeros(shape, dtype=torch.uint8)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(shape)


def _find(raw: Path, name: str) -> Path | None:
    """The file `name` in raw/, or its .gz (what MNIST's mirrors serve); the plain one first.
    Whatever is there counts, a folder or a FIFO included: read_idx then says what it is."""
    for candidate in (raw / name, raw / f"{name}.gz"):
        if os.path.lexists(candidate):
            return candidate
    return None


def _check_folder(root: Path, raw: Path) -> None:
    """DataError if the data folder is a file or cannot be searched (permissions)."""
    for folder in (root, raw):
        try:
            st = os.stat(folder)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise DataError(f"cannot read the data folder {folder}: {safeio.reason(exc)}. "
                            "Point --data-dir at a readable folder holding MNIST/raw/.") from None
        if not stat.S_ISDIR(st.st_mode):
            raise DataError(f"data directory {folder} is {safeio.kind_of(st.st_mode)}, not a folder")
        if not os.access(folder, os.R_OK | os.X_OK):
            raise DataError(f"cannot read the data folder {folder}: permission denied. "
                            "Point --data-dir at a readable folder holding MNIST/raw/.")


def load_mnist(root: Path, train: bool = True, device: torch.device | str = "cpu",
               download: bool = True) -> Digits:
    """Load one MNIST split from `root` (the folder that holds MNIST/raw/) onto `device`."""
    root = Path(root)
    raw = root / "MNIST" / "raw"
    _check_folder(root, raw)
    names = FILES[train]
    paths = [_find(raw, name) for name in names]
    if None in paths:
        if not download:
            raise DataError(_missing_message(raw, train, "not downloaded here",
                                             "or, online, train a model: training downloads it"))
        from torchvision import datasets  # ~2 s to import: only when the files must be fetched

        try:
            datasets.MNIST(str(root), train=train, download=True)
        except Exception as exc:  # offline, unwritable root, ...: explain instead of a traceback
            raise DataError(_missing_message(raw, train, f"download failed: {exc}",
                                             "or connect to the internet so it can be downloaded")) from None
        paths = [raw / name for name in names]
    try:
        images, labels = (read_idx(path) for path in paths)
    except DataError as exc:
        raise DataError(f"MNIST in {raw} is damaged: {exc}. "
                        "Delete the file to download it again, or point --data-dir at a good copy.") from None
    if images.dim() != 3 or tuple(images.shape[1:]) != (28, 28):
        raise DataError(f"MNIST images in {raw} have shape {tuple(images.shape)}, expected [N, 28, 28]")
    if labels.dim() != 1:
        raise DataError(f"MNIST labels in {raw} have shape {tuple(labels.shape)}, expected [N]")
    if labels.shape[0] == 0:
        raise DataError(f"MNIST in {raw} holds no images: its files are empty of data")
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"MNIST in {raw}: {images.shape[0]} images but {labels.shape[0]} labels (truncated file?)"
        )
    if len(labels) and labels.max() > 9:
        raise DataError(f"MNIST labels in {raw} fall outside 0-9: not an MNIST label file")
    return Digits(images.contiguous(), labels.long()).to(device)


def epoch_batches(n: int, batch_size: int, generator: torch.Generator,
                  device: torch.device | str, drop_last: bool = True) -> Iterator[torch.Tensor]:
    """Index tensors for one shuffled epoch. The permutation is drawn on the CPU generator so the
    same seed gives the same batches on every device."""
    order = torch.randperm(n, generator=generator).to(device)
    stop = n - n % batch_size if drop_last and n >= batch_size else n
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


def batches_per_epoch(n: int, batch_size: int, drop_last: bool = True) -> int:
    return n // batch_size if drop_last and n >= batch_size else math.ceil(n / batch_size)


def augment(x: torch.Tensor, generator: torch.Generator, max_degrees: float = 10.0,
            max_shift: float = 2.0, scale: tuple[float, float] = (0.9, 1.1)) -> torch.Tensor:
    """Random small rotations, scalings and shifts of a float batch [B, 1, 28, 28], done on x's device.

    The parameters (4 numbers per image) come from `generator`, drawn on its device: a CPU generator
    gives the same results on every device, one on x's device saves a host-to-device copy.
    """
    b = x.shape[0]
    u = torch.rand(b, 4, generator=generator, device=generator.device)
    angle = (u[:, 0] * 2 - 1) * math.radians(max_degrees)
    s = scale[0] + u[:, 1] * (scale[1] - scale[0])
    shift = (u[:, 2:] * 2 - 1) * (max_shift * 2 / x.shape[-1])  # pixels -> [-1, 1] grid units
    return affine(x, angle, s, shift)


def add_noise(x: torch.Tensor, most: float, generator: torch.Generator) -> torch.Tensor:
    """x [B, 1, H, W] plus Gaussian noise whose standard deviation is drawn per image, uniformly in
    [0, most]: clean, faint and heavily noised images in every batch. Drawn like `augment`'s."""
    sigma = torch.rand(x.shape[0], 1, 1, 1, generator=generator, device=generator.device) * most
    return x + sigma.to(x.device) * torch.randn(x.shape, generator=generator, device=generator.device).to(x.device)


def affine(x: torch.Tensor, angle: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate each image of a float batch [B, 1, H, W] by angle [B] (radians), scale it by scale [B]
    and shift it by shift [B, 2] (in [-1, 1] grid units, x then y); bilinear, zeros outside."""
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([
        torch.stack([cos, -sin, shift[:, 0]], dim=1),
        torch.stack([sin, cos, shift[:, 1]], dim=1),
    ], dim=1).to(device=x.device, dtype=x.dtype)  # [B, 2, 3]
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def split_holdout(digits: Digits, holdout: int) -> tuple[Digits, Digits | None]:
    """(the images to train or fit on, the last `holdout` ones kept out to calibrate or validate, or None)."""
    if not holdout:
        return digits, None
    if holdout >= len(digits):
        raise DataError(f"--holdout {holdout} leaves nothing to train on: the training set has {len(digits):,} images")
    return Digits(digits.images[:-holdout], digits.labels[:-holdout]), \
        Digits(digits.images[-holdout:], digits.labels[-holdout:])
