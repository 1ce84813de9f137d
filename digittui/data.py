"""MNIST as uint8 tensors resident on the training device, batched by index, augmented on tensors.

The IDX files are read here; torchvision's `datasets.MNIST` is used only to download missing ones
(importing torchvision costs ~2 s, far more than reading the files). Each split then lives in one
[N, 28, 28] uint8 tensor, so an epoch is a random permutation and a gather: no per-sample PIL
transforms, no DataLoader worker processes.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

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


def read_idx(path: Path) -> torch.Tensor:
    """One IDX file, plain or gzipped, as a uint8 tensor. The format (MNIST's): two zero bytes, the
    type 0x08 (unsigned bytes), the number of dimensions, each size as a big-endian uint32, the data.
    Raises DataError for anything else."""
    try:
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, a folder, a broken .gz
        raise DataError(f"cannot read {path}: {exc}") from None
    ndim = data[3] if len(data) >= 4 else 0
    header = 4 + 4 * ndim
    if data[:3] != b"\0\0\x08" or ndim == 0 or len(data) < header:
        raise DataError(f"{path} is not an IDX file of unsigned bytes (its header is {data[:4]!r})")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != math.prod(shape):
        raise DataError(f"{path} is truncated: its header promises {math.prod(shape):,} bytes of "
                        f"{list(shape)}, it holds {len(data) - header:,}")
    return torch.frombuffer(bytearray(data), dtype=torch.uint8, offset=header).reshape(shape)


def _find(raw: Path, name: str) -> Path | None:
    """The file `name` in raw/, or its .gz (what MNIST's mirrors serve); the plain one first."""
    for candidate in (raw / name, raw / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def load_mnist(root: Path, train: bool = True, device: torch.device | str = "cpu",
               download: bool = True) -> Digits:
    """Load one MNIST split from `root` (the folder that holds MNIST/raw/) onto `device`."""
    root = Path(root)
    raw = root / "MNIST" / "raw"
    if root.exists() and not root.is_dir():
        raise DataError(f"data directory {root} is a file, not a folder")
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
