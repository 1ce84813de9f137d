"""MNIST as uint8 tensors resident on the training device, batched by index, augmented on tensors.

torchvision's `datasets.MNIST` reads the IDX files (and downloads them when online); after that the
whole split lives in one [N, 28, 28] uint8 tensor, so an epoch is a random permutation and a gather:
no per-sample PIL transforms, no DataLoader worker processes.
"""

from __future__ import annotations

import math
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


def _missing_message(raw: Path, train: bool, cause: str) -> str:
    names = ", ".join(FILES[True] + FILES[False])
    return (
        f"MNIST {'training' if train else 'test'} data not found in {raw} ({cause}).\n"
        f"Expected the files {names} (or their .gz) in that folder.\n"
        f"Point digittui at a folder holding MNIST/raw/ with --data-dir DIR or the {DATA_ENV} "
        "environment variable, or connect to the internet so it can be downloaded."
    )


def load_mnist(root: Path, train: bool = True, device: torch.device | str = "cpu",
               download: bool = True) -> Digits:
    """Load one MNIST split from `root` (the folder that holds MNIST/raw/) onto `device`."""
    from torchvision import datasets  # ~3 s to import: only where data is really loaded

    root = Path(root)
    raw = root / "MNIST" / "raw"
    if root.exists() and not root.is_dir():
        raise DataError(f"data directory {root} is a file, not a folder")
    try:
        dataset = datasets.MNIST(str(root), train=train, download=False)
    except RuntimeError as exc:
        if "not found" not in str(exc).lower():
            raise DataError(f"cannot read MNIST in {raw}: {exc}") from None
        if not download:
            raise DataError(_missing_message(raw, train, "download disabled")) from None
        try:
            dataset = datasets.MNIST(str(root), train=train, download=True)
        except Exception as exc:  # offline, unwritable root, ...: explain instead of a traceback
            raise DataError(_missing_message(raw, train, f"download failed: {exc}")) from None
    except PermissionError as exc:
        raise DataError(f"cannot read MNIST in {raw}: {exc}") from None
    except Exception as exc:  # truncated or malformed IDX files trip torchvision's parser
        raise DataError(
            f"MNIST files in {raw} are damaged or not IDX files ({type(exc).__name__}: {exc}). "
            "Delete them to download again, or point --data-dir at a good copy."
        ) from None
    images, labels = dataset.data, dataset.targets
    if images.dtype != torch.uint8 or images.dim() != 3 or tuple(images.shape[1:]) != (28, 28):
        raise DataError(f"MNIST images in {raw} have shape {tuple(images.shape)}, expected [N, 28, 28]")
    if labels.shape[0] != images.shape[0]:
        raise DataError(
            f"MNIST in {raw}: {images.shape[0]} images but {labels.shape[0]} labels (truncated file?)"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
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
