"""Writing tiny synthetic MNIST files (the IDX format) for tests."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write an IDX file (the MNIST format): magic 0x0000 08 <ndim>, big-endian sizes, uint8 data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(array.astype(np.uint8).tobytes())


def synthetic_digits(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Learnable fake digits: class k lights a 6x6 block at its own place on a 28x28 canvas, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 40, (n, 28, 28))
    for i, k in enumerate(labels):
        r, c = 3 + (k // 5) * 12, 2 + (k % 5) * 5
        images[i, r:r + 6, c:c + 6] = 255
    return images.astype(np.uint8), labels.astype(np.uint8)


def make_mnist(root: Path, n_train: int = 256, n_test: int = 64) -> Path:
    raw = root / "MNIST" / "raw"
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = synthetic_digits(n, seed)
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return root
