"""Where things live: the MNIST data directory, the user's checkpoints, the shipped weights, exports."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import platformdirs

from digittui.errors import ExportError, HomeError

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
    return _per_user(platformdirs.user_cache_path, f"--data-dir or {DATA_ENV}") / "data"


def user_dir() -> Path:
    """Per-user state: checkpoints the user trained. Never inside the installed package.
    $DIGITTUI_HOME, else the platform's per-user data folder (~/.local/share/digittui on Linux,
    ~/Library/Application Support/digittui on macOS)."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    return _per_user(platformdirs.user_data_path, HOME_ENV)


def _per_user(where: Callable[..., Path], override: str) -> Path:
    """The platform's per-user folder from platformdirs' `where`, or HomeError when there is no home
    folder: HOME unset and no passwd entry for this user (a bare container, a uid from a volume)."""
    try:
        path = where(APP, appauthor=False)
    except RuntimeError:  # platformdirs: "could not determine the home directory"
        path = None
    if path is None or not path.is_absolute():
        user = getattr(os, "getuid", lambda: "?")()
        raise HomeError(f"no home folder for per-user files: HOME is not set and user id {user} has no "
                        f"entry in the password database. Set HOME, or {override}")
    return path


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
    try:
        return Path.cwd() / "digittui-exports"
    except FileNotFoundError:  # the current folder was deleted under us
        raise ExportError(f"the current folder no longer exists: give --out-dir or {EXPORT_ENV}") from None
