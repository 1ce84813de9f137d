"""Where things live: the MNIST data directory, the user's checkpoints, the shipped weights, exports."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "DIGITTUI_DATA"
HOME_ENV = "DIGITTUI_HOME"
EXPORT_ENV = "DIGITTUI_EXPORTS"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var)
    return Path(value) if value else Path.home() / fallback


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The MNIST root (torchvision layout: <root>/MNIST/raw/...).

    `--data-dir` wins, then $DIGITTUI_DATA, then a per-user cache directory.
    """
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return _xdg("XDG_CACHE_HOME", ".cache") / "digittui" / "data"


def user_dir() -> Path:
    """Per-user state: checkpoints the user trained. Never inside the installed package."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    return _xdg("XDG_DATA_HOME", ".local/share") / "digittui"


def user_checkpoint(kind: str) -> Path:
    """Where `digittui train KIND` writes by default, and where the app looks first."""
    return user_dir() / "checkpoints" / f"{kind}.pt"


def assets_dir() -> Path:
    """The shipped weights: inside the package in a wheel, at the repository top in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "assets", here.parent / "assets"):
        if candidate.is_dir():
            return candidate
    return here / "assets"


def shipped_checkpoint(kind: str) -> Path:
    return assets_dir() / f"{kind}.pt"


def export_dir(explicit: str | os.PathLike | None = None) -> Path:
    """Where PNG / GIF / npz results go: `--out-dir`, then $DIGITTUI_EXPORTS, then ./digittui-exports."""
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(EXPORT_ENV):
        return Path(os.environ[EXPORT_ENV]).expanduser()
    return Path.cwd() / "digittui-exports"
