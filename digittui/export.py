"""Writing results: PNG grids (matplotlib), animated GIFs (Pillow) and npz arrays (numpy).

Every writer takes images as float [N, H, W] in [0, 1] (tensors or arrays) and turns any failure to
write into an ExportError. `safe_output_path` picks where a result goes without surprises.

npz layout (`save_npz`, and `generated_arrays` for generation results):
    images   float32 [N, H, W] in [0, 1]; samples narrower than the widest are padded on the right
    targets  int64 [N]: the digit for digit requests, -1 for numbers, hybrids and unlearned classes
    classes  int64 [N, K]: every class the sample was asked for, padded with -1
             (number 2026 -> 2, 0, 2, 6; hybrid 3+8 -> 3, 8; class:11 -> 11)
    kinds    str [N]: "digit" | "number" | "hybrid" | "class"
    widths   int64 [N]: each sample's own width in pixels (28 per digit)
    confidence float32 [N] and predicted int64 [N, K] (the CNN's digit per position, -1 padded)
"""

from __future__ import annotations

import atexit
import math
import os
import re
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from digittui import safeio
from digittui.errors import ExportError

_UNSAFE = re.compile(r"[^\w .+=-]+")  # keeps letters, digits, space, _ . + = -; separators become _


def safe_output_path(directory: str | os.PathLike, name: str, suffix: str,
                     overwrite: bool = False) -> Path:
    """A path for a new file named after `name` inside `directory` (created if needed), reserved.

    The name is reduced to one harmless file name (no separators, no `..`, no leading dot), so a
    name built from user text ("3+8", "../../etc/passwd") cannot leave the directory. An existing
    file is kept: the name gets -1, -2, ... unless `overwrite`. The name is reserved at once by
    creating it empty (O_EXCL), so that two runs choosing at the same moment get different names;
    the writers below replace the reservation, and release_reservations() removes those never
    written. ExportError if the directory cannot be created or written, or (with `overwrite`) the
    path holds something other than a regular file.
    """
    directory = export_folder(directory)
    suffix = suffix if suffix.startswith(".") else f".{suffix}"
    stem = name[:-len(suffix)] if name.lower().endswith(suffix.lower()) else name
    stem = _UNSAFE.sub("_", stem).strip(" ._")[:100] or "digittui"
    if overwrite:
        return safeio.check_destination(directory / f"{stem}{suffix}", suffix[1:].upper(), error=ExportError)
    for n in range(MAX_NUMBERED):
        path = directory / (f"{stem}{suffix}" if n == 0 else f"{stem}-{n}{suffix}")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        except OSError as exc:
            raise ExportError(f"cannot create {path}: {safeio.reason(exc)}") from None
        with _reservation_lock:
            _reserved[path] = os.fstat(fd).st_ino
        os.close(fd)
        return path
    raise ExportError(f"cannot export to {directory}: {stem}{suffix} and {MAX_NUMBERED - 1:,} numbered "
                      "variants already exist. Choose another name or folder.")


def export_folder(directory: str | os.PathLike) -> Path:
    """`directory`, created if needed, once it is known to be a folder we can write in: ExportError
    otherwise (a file or FIFO in its place, no permission, a read-only file system)."""
    directory = Path(directory).expanduser()
    if directory.exists() and not directory.is_dir():
        raise ExportError(f"cannot export to {directory}: it is {safeio.kind_of(directory.stat().st_mode)}, "
                          "not a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create the export folder {directory}: {safeio.reason(exc)}") from None
    if not os.access(directory, os.W_OK | os.X_OK):
        cause = "the file system is read-only" if safeio.read_only_fs(directory) else "permission denied"
        raise ExportError(f"cannot write in {directory}: {cause}. "
                          "Choose another folder (DIGITTUI_EXPORTS or the output option).")
    return directory


MAX_NUMBERED = 10_000  # name-1 ... name-9999: past that, a folder of leftovers, not a choice of names
_reserved: dict[Path, int] = {}  # path -> inode of the empty file reserving it, until written
_reservation_lock = threading.Lock()


def release_reservations(paths: Sequence[Path] | None = None) -> None:
    """Remove the names reserved by safe_output_path (all, or those among `paths`) and never written
    (the work failed or was interrupted), so that no empty file is left behind. A file written since,
    or replaced by someone else, is kept."""
    with _reservation_lock:
        pending = [(p, i) for p, i in _reserved.items() if paths is None or p in paths]
        for path, _ in pending:
            del _reserved[path]
    for path, inode in pending:
        try:
            st = os.lstat(path)
            if st.st_ino == inode and st.st_size == 0:
                path.unlink()
        except OSError:
            pass


atexit.register(release_reservations)


def output_path(value: str | os.PathLike | None, default_name: str, suffix: str,
                overwrite: bool = False, out_dir: str | os.PathLike | None = None) -> Path:
    """Where a front end writes a result: a path the user gave (relative to the current folder, as
    any command-line path), else `default_name` in the export folder (paths.export_dir). Either way
    through safe_output_path: one plain file name, reserved, no silent overwrite."""
    from digittui.paths import export_dir

    if value:
        path = Path(value).expanduser()
        return safe_output_path(path.parent, path.name, suffix, overwrite)
    return safe_output_path(export_dir(out_dir), default_name, suffix, overwrite)


def _as_array(images) -> np.ndarray:
    """Tensor or array [N, H, W] (or [H, W]) -> float32 array [N, H, W] clipped to [0, 1]."""
    array = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images, dtype=np.float32)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise ExportError(f"expected images shaped [N, H, W], got {list(array.shape)}")
    return np.clip(array, 0.0, 1.0)


def _write(path: Path, what: str, write) -> Path:
    """Write `path` atomically through `write(file object)` (safeio.atomic_write): a failure (disk
    full, permission denied, a FIFO at the path) leaves no half-written file and any old one intact,
    and becomes an ExportError. The name's reservation, if any, is replaced by the result."""
    path = safeio.atomic_write(path, what, write, error=ExportError)
    with _reservation_lock:
        _reserved.pop(Path(path), None)
    return path


def mosaic(images, columns: int | None = None, gap: int = 2, strip: int = 0) -> np.ndarray:
    """[N, H, W] -> one float32 image: a grid in row order, `gap` pixels between cells and a blank
    strip of `strip` pixels under each row (room for captions)."""
    array = _as_array(images)
    n, h, w = array.shape
    columns = columns or _columns(n, h, w)
    rows = math.ceil(n / columns)
    out = np.zeros((rows * (h + strip + gap) - gap, columns * (w + gap) - gap), dtype=np.float32)
    for i, image in enumerate(array):
        r, c = divmod(i, columns)
        out[r * (h + strip + gap):r * (h + strip + gap) + h, c * (w + gap):c * (w + gap) + w] = image
    return out


def _columns(n: int, h: int, w: int) -> int:
    """Columns for a roughly square grid of n cells of h x w."""
    return max(1, math.ceil(math.sqrt(n * h / w)))


def mosaic_shape(n: int, h: int, w: int, columns: int | None = None, gap: int = 2, strip: int = 0) -> tuple[int, int]:
    """(height, width) of mosaic() of n images of h x w, without building it."""
    columns = columns or _columns(n, h, w)
    rows = math.ceil(n / columns)
    return rows * (h + strip + gap) - gap, columns * (w + gap) - gap


GIF_SCALE = 4  # each pixel drawn as 4 x 4: a 28-pixel digit is 112 pixels tall
JOURNEY_BAND = 4  # pixels (before scaling) above a journey GIF's grid and under each row, for the text


def check_gif(frames: int, n: int, h: int, w: int, columns: int | None = None, scale: int = GIF_SCALE,
              band: int = 0) -> None:
    """LimitError unless a GIF of `frames` grids of n images of h x w (with a text band of `band`
    pixels above the grid and under each row) fits the format (16-bit sides) and the memory (Pillow
    holds every frame): checked before the work whose result it would show."""
    from digittui import limits

    height, width = mosaic_shape(n, h, w, columns, strip=band)
    height += band
    limits.check_image_side(f"a GIF frame of {n:,} images", width * scale, height * scale, limits.GIF_SIDE,
                            "Ask for fewer samples or specs, or leave out the GIF.")
    limits.check_memory("the GIF", frames, width * height * scale * scale * 2, "frames",
                        "Ask for fewer samples or steps, or leave out the GIF.")


def save_png_grid(path: str | os.PathLike, images, titles: Sequence[str] | None = None,
                  confidences: Sequence[float] | None = None, title: str | None = None,
                  columns: int | None = None) -> Path:
    """A grid of images with an optional caption under each ("3 0.99") and a figure title.

    Captions are drawn for up to 256 images; beyond that they would be unreadable."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed, and no GUI toolkit imported
    import matplotlib.pyplot as plt

    array = _as_array(images)
    n, h, w = array.shape
    columns = columns or _columns(n, h, w)
    rows = math.ceil(n / columns)
    captions = n <= 256 and (titles is not None or confidences is not None)
    gap, strip = 2, (10 if captions else 0)
    grid = mosaic(array, columns, gap, strip)
    inch = 0.02  # per pixel: a 28-pixel digit is about half an inch
    top = 0.4 if title else 0.05
    fig = plt.figure(figsize=(grid.shape[1] * inch + 0.1, grid.shape[0] * inch + top + 0.05),
                     facecolor="black")
    ax = fig.add_axes((0.05 / fig.get_figwidth(), 0.05 / fig.get_figheight(),
                       grid.shape[1] * inch / fig.get_figwidth(), grid.shape[0] * inch / fig.get_figheight()))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    if captions:
        for i in range(n):
            r, c = divmod(i, columns)
            text = " ".join(filter(None, [titles[i] if titles is not None else None,
                                          f"{confidences[i]:.2f}" if confidences is not None else None]))
            ax.text(c * (w + gap) + w / 2, r * (h + strip + gap) + h + strip / 2, text,
                    ha="center", va="center", fontsize=4, color="white")
    if title:
        # Shrink a long title to the figure's width (a character is about 0.6 em wide).
        size = min(9.0, max(4.0, fig.get_figwidth() * 72 * 0.95 / (0.6 * len(title))))
        fig.suptitle(title, color="white", fontsize=size, y=1 - 0.2 / fig.get_figheight(), va="center")
    try:
        return _write(path, "PNG", lambda f: fig.savefig(f, format="png", dpi=200, facecolor="black"))
    finally:
        plt.close(fig)


def save_latent_map(path: str | os.PathLike, latent_map, grid, extent: float) -> Path:
    """Two panels over the same plane: the points of a digittui.latent.LatentMap coloured by digit,
    and `grid` [n, n, 28, 28], the images decoded over [-extent, extent]^2 (digittui.latent.plane_grid)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = grid.shape[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 6))
    points, labels = np.asarray(latent_map.points), np.asarray(latent_map.labels)
    scatter = left.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=4)
    fig.colorbar(scatter, ax=left, ticks=range(10), label="digit")
    explained = [float(e) for e in latent_map.explained]
    left.set(xlim=(-extent, extent), ylim=(-extent, extent), aspect="equal",
             xlabel=f"PC 1 ({explained[0]:.0%} of the variance)", ylabel=f"PC 2 ({explained[1]:.0%})",
             title=f"{len(labels)} test digits: latent means")
    right.imshow(mosaic(np.asarray(grid, dtype=np.float32).reshape(n * n, 28, 28), n, gap=0), cmap="gray",
                 vmin=0, vmax=1, extent=(-extent, extent, -extent, extent), interpolation="nearest")
    right.set(xlabel="PC 1", ylabel="PC 2", title=f"decoded over the same plane ({n} x {n})")
    fig.tight_layout()
    try:
        return _write(path, "PNG", lambda f: fig.savefig(f, format="png", dpi=110))
    finally:
        plt.close(fig)


def save_gif(path: str | os.PathLike, frames, duration_ms: int = 100, scale: int = GIF_SCALE,
             columns: int | None = None) -> Path:
    """An animated GIF, looping. frames: [T, H, W], or [T, N, H, W] drawn as a grid per frame.
    The last frame is held three times as long, so the result can be seen."""
    from PIL import Image

    array = np.asarray(frames.detach().cpu() if hasattr(frames, "detach") else frames, dtype=np.float32)
    if array.ndim == 4:
        check_gif(array.shape[0], array.shape[1], array.shape[2], array.shape[3], columns, scale)
        array = np.stack([mosaic(frame, columns) for frame in array])
    if array.ndim != 3 or len(array) == 0:
        raise ExportError(f"expected frames shaped [T, H, W] or [T, N, H, W], got {list(array.shape)}")
    from digittui import limits

    limits.check_image_side("a GIF frame", array.shape[2] * scale, array.shape[1] * scale, limits.GIF_SIDE,
                            "Ask for fewer images.")
    pixels = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
    images = [Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.NEAREST)
              for f in pixels]
    durations = [duration_ms] * (len(images) - 1) + [duration_ms * 3]
    return _write(path, "GIF", lambda f: images[0].save(f, format="GIF", save_all=True,
                                                       append_images=images[1:], duration=durations,
                                                       loop=0))


def save_journey_gif(path: str | os.PathLike, frames, confidence, steps: Sequence[int],
                     columns: int | None = None, duration_ms: int = 150, scale: int = GIF_SCALE) -> Path:
    """Guided generation as an animated GIF, looping: frames [T, N, H, W] (every sample in a grid)
    from step 0 to the result, the step above the grid and the CNN's confidence [T, N] under each
    sample. The result is held three times as long."""
    from PIL import Image, ImageDraw, ImageFont

    array = np.asarray(frames, dtype=np.float32)
    confidence = np.asarray(confidence, dtype=np.float32)
    if array.ndim != 4 or len(array) == 0 or confidence.shape != array.shape[:2] or len(steps) != len(array):
        raise ExportError(f"expected frames [T, N, H, W] with confidence [T, N] and T steps, got "
                          f"{list(array.shape)}, {list(confidence.shape)} and {len(steps)}")
    t, n, h, w = array.shape
    columns = columns or _columns(n, h, w)
    band = JOURNEY_BAND
    check_gif(t, n, h, w, columns, scale, band)
    font = ImageFont.load_default(size=3 * scale)
    images = []
    for frame, conf, step in zip(array, confidence, steps):
        grid = np.pad(mosaic(frame, columns, strip=band), ((band, 0), (0, 0)))
        image = Image.fromarray((np.clip(grid, 0, 1) * 255).round().astype(np.uint8))
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
        draw = ImageDraw.Draw(image)
        draw.text((2, 0), f"step {step}" + (" (result)" if step == steps[-1] else ""), fill=255, font=font)
        for i, c in enumerate(conf.tolist()):
            r, col = divmod(i, columns)
            draw.text((col * (w + 2) * scale, (band + r * (h + band + 2) + h) * scale), f"{c:.2f}",
                      fill=200, font=font)
        images.append(image)
    durations = [duration_ms] * (len(images) - 1) + [duration_ms * 3]
    return _write(path, "GIF", lambda p: images[0].save(p, format="GIF", save_all=True,
                                                       append_images=images[1:], duration=durations,
                                                       loop=0))


def save_images(directory: str | os.PathLike, images: Sequence, names: Sequence[str],
                overwrite: bool = False, scale: int = 4) -> list[Path]:
    """Each image [H, W] (their sizes may differ) as its own PNG, light ink on black, `scale` times
    larger, no caption, in `directory`, named by `names` through safe_output_path: what
    `digittui classify` reads back."""
    from PIL import Image

    if len(names) != len(images):
        raise ExportError(f"{len(names)} names for {len(images)} images")
    paths = []
    for image, name in zip(images, names):
        path = safe_output_path(directory, name, ".png", overwrite)
        pixels = Image.fromarray((_as_array(image)[0] * 255).round().astype(np.uint8))
        pixels = pixels.resize((pixels.width * scale, pixels.height * scale), Image.Resampling.NEAREST)
        paths.append(_write(path, "PNG", lambda p: pixels.save(p, format="PNG")))
    return paths


def save_npz(path: str | os.PathLike, images, targets, **extra) -> Path:
    """images float32 [N, H, W] in [0, 1], targets int [N], plus any extra arrays (compressed)."""
    array = _as_array(images)
    targets = np.asarray(targets, dtype=np.int64)
    if targets.shape != (len(array),):
        raise ExportError(f"targets {list(targets.shape)} do not match {len(array)} images")
    arrays = {k: np.asarray(v) for k, v in extra.items()}

    # A file object: given a name, np.savez would append ".npz" to it.
    return _write(path, "npz file", lambda f: np.savez_compressed(f, images=array, targets=targets, **arrays))


def pad_width(parts: Sequence, width: int) -> np.ndarray:
    """Image arrays [..., N_i, H, W_i] -> one float32 array [..., sum of N_i, H, width]: each
    zero-padded on the right, then joined along the N axis."""
    padded = []
    for part in parts:
        array = np.asarray(part, dtype=np.float32)
        padded.append(np.pad(array, [(0, 0)] * (array.ndim - 1) + [(0, width - array.shape[-1])]))
    return np.concatenate(padded, axis=-3)


def generated_arrays(results) -> dict[str, np.ndarray]:
    """Generation results (digittui.generate.Generated) -> the npz arrays described at the top."""
    width = max(r.images.shape[-1] for r in results)
    k = max(len(r.request.classes) for r in results)
    targets, classes, kinds, widths, confidence, predicted = [], [], [], [], [], []
    for r in results:
        n, _, w = r.images.shape
        targets += [r.request.classes[0] if r.request.kind == "digit" else -1] * n
        classes += [list(r.request.classes) + [-1] * (k - len(r.request.classes))] * n
        kinds += [r.request.kind] * n
        widths += [w] * n
        confidence.append(r.confidence.numpy())
        pred = r.predicted.numpy()  # [n, positions]
        predicted.append(np.pad(pred, ((0, 0), (0, k - pred.shape[1])), constant_values=-1))
    return {"images": pad_width([r.images for r in results], width), "targets": np.array(targets, dtype=np.int64),
            "classes": np.array(classes, dtype=np.int64), "kinds": np.array(kinds),
            "widths": np.array(widths, dtype=np.int64),
            "confidence": np.concatenate(confidence).astype(np.float32),
            "predicted": np.concatenate(predicted).astype(np.int64)}


def save_generated_grid(path: str | os.PathLike, results, arrays: dict[str, np.ndarray],
                        columns: int | None = None) -> Path:
    """A PNG grid of generation results: each sample titled with the CNN's reading and confidence.
    `arrays` is generated_arrays(results), which callers also write to the npz."""
    titles = ["".join(map(str, row.tolist())) for r in results for row in r.predicted]
    return save_png_grid(path, arrays["images"], titles=titles, confidences=arrays["confidence"].tolist(),
                         title=", ".join(r.request.label for r in results), columns=columns)


def save_generated_journey(path: str | os.PathLike, results, columns: int | None = None) -> Path:
    """An animated GIF of generation results (every sample of every request in one grid), from step 0
    to the result, with the CNN's confidence under each sample: what `generate --gif` and the
    Generate screen's save write."""
    width = max(r.images.shape[-1] for r in results)
    frames = pad_width([r.trajectory for r in results], width)  # [T, N, 28, width]
    confidence = np.concatenate([r.trajectory_confidence.numpy() for r in results], axis=1)  # [T, N]
    return save_journey_gif(path, frames, confidence, results[0].trajectory_steps, columns=columns)
