"""Where things live: the MNIST data directory, the user's checkpoints, the shipped weights, exports."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "digittui"
DATA_ENV = "DIGITTUI_DATA"
HOME_ENV = "DIGITTUI_HOME"
EXPORT_ENV = "DIGITTUI_EXPORTS"


def data_dir(explicit: str | os.PathLike | None = None) -> Path:
    """The MNIST root (torchvision layout: <root>/MNIST/raw/...).

    `--data-dir` wins, then $DIGITTUI_DATA, then the platform's per-user cache folder
    (~/.cache/digittui/data on Linux, ~/Library/Caches/digittui/data on macOS).
    """
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV]).expanduser()
    return platformdirs.user_cache_path(APP, appauthor=False) / "data"


def user_dir() -> Path:
    """Per-user state: checkpoints the user trained. Never inside the installed package.
    $DIGITTUI_HOME, else the platform's per-user data folder (~/.local/share/digittui on Linux,
    ~/Library/Application Support/digittui on macOS)."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    return platformdirs.user_data_path(APP, appauthor=False)


def user_checkpoint(kind: str) -> Path:
    """Where digittui trained into before it kept every run (digittui.weights): still used, until
    the user chooses other weights, when it exists."""
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
