"""How much one request may ask for, checked before any work: counts, frames, grids and batches
against an estimate of the memory they need, seeds against what the generators accept, image sizes
against what the file formats allow. Each refusal says the limit and why (a LimitError).

The per-item figures are peak memory growth per sample, image or batch element, measured by
benchmarks/memory_use.py (benchmarks/RESULTS.md) and rounded up; the budget is the memory this
machine (or its cgroup) has available now.
"""

from __future__ import annotations

import os
from pathlib import Path

from digittui.errors import LimitError

# Bytes per item: benchmarks/memory_use.py's figures (benchmarks/RESULTS.md), rounded up.
GENERATE_SAMPLE = 1_000_000  # one guided sample (per digit position) while it is optimized
PNG_IMAGE = 600_000  # one 28x28 cell of a PNG grid while matplotlib renders it
DECODE_IMAGE = 50_000  # one image decoded by the VAE (explore sample / morph / latent-map grid)
TRAIN_IMAGE = 300_000  # one image of a training batch, at the default model sizes

SHARE = 0.8  # of the available memory a request may plan to use: the rest is for everything else
MAX_SEED = 2**32 - 1  # every generator (torch's, numpy's) takes it; epochs derive seed * 100,003 + epoch
GIF_SIDE = 65_535  # GIF stores widths and heights in 16 bits


def available_bytes() -> int:
    """Memory available now: the system's MemAvailable, or less when a cgroup limits this process."""
    available = _meminfo_available()
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        limit, usage = _read_int(limit_file), _read_int(usage_file)
        if limit is not None and usage is not None and limit < 2**60:
            available = min(available, max(limit - usage, 0))
    return available


def _meminfo_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30  # unknown (not Linux): assume a modest machine


def _read_int(path: str) -> int | None:
    try:
        return int(Path(path).read_text().strip())
    except (OSError, ValueError):
        return None


def size(n: float) -> str:
    """Bytes for people: '1.2 GB', '340 MB'."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:,.1f} {unit}"
    return f"{n:.0f} bytes"


def check_memory(option: str, items: int, bytes_each: int, unit: str, hint: str = "") -> None:
    """Raise LimitError when `items` of `bytes_each` exceed SHARE of the available memory."""
    need = items * bytes_each
    available = available_bytes()
    budget = int(available * SHARE)
    if need > budget:
        most = max(budget // max(bytes_each, 1), 0)
        raise LimitError(f"{option}: {items:,} {unit} would need about {size(need)} of memory "
                         f"(about {size(bytes_each)} each), and {size(available)} is available: at most "
                         f"{most:,} at once{f'. {hint}' if hint else ''}")


def check_generation(samples: int, steps: int, report_every: int, *, png: bool = False,
                     option: str = "--count") -> None:
    """LimitError unless `samples` guided samples (a number counts once per digit), optimized for
    `steps` with a snapshot every `report_every` (the trajectory is kept), fit in the memory."""
    snapshots = steps // report_every + 2
    each = GENERATE_SAMPLE + snapshots * 28 * 28 * 4 + (PNG_IMAGE if png else 0)
    check_memory(option, samples, each, "samples (counting each digit of a number)",
                 "Run several smaller batches with different seeds, or fewer steps")


def check_seed(seed: int, option: str = "--seed") -> int:
    if not 0 <= seed <= MAX_SEED:
        raise LimitError(f"{option} {_short_int(seed)} is out of range: seeds run from 0 to {MAX_SEED:,}")
    return seed


def check_image_side(what: str, width: int, height: int, most: int, hint: str) -> None:
    if width > most or height > most:
        raise LimitError(f"{what} would be {width:,} x {height:,} pixels; the format allows at most "
                         f"{most:,} a side. {hint}")


def _short_int(n: int) -> str:
    text = str(n)
    return text if len(text) <= 20 else f"{text[:8]}...({len(text)} digits)"
