"""Opening an image file: a typed path with completion, or a pick from a tree of the folders and the
images in them."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import DirectoryTree, Input, Label

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm"})
MAX_LISTED = 5000  # entries read from one folder to complete a name: a huge folder must not stall typing


class PathSuggester(Suggester):
    """Completes the last part of a typed path to the first folder or image that starts with it."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)  # folders change; names are case-sensitive

    async def get_suggestion(self, value: str) -> str | None:
        return await asyncio.to_thread(complete_path, value)


def complete_path(value: str) -> str | None:
    """`value` completed to the first matching folder (with a trailing separator) or image file."""
    if not value:
        return None
    folder, _, start = value.rpartition(os.sep)
    base = Path(folder or ".").expanduser() if folder or not value.startswith(os.sep) else Path(os.sep)
    try:
        with os.scandir(base) as entries:
            names = []
            for i, entry in enumerate(entries):
                if i >= MAX_LISTED:
                    break
                if entry.name.startswith(start) and not (entry.name.startswith(".") and not start.startswith(".")):
                    if entry.is_dir():
                        names.append(entry.name + os.sep)
                    elif Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                        names.append(entry.name)
    except OSError:
        return None
    if not names:
        return None
    completed = (folder + os.sep if folder or value.startswith(os.sep) else "") + sorted(names)[0]
    return completed if completed != value else None


class ImageTree(DirectoryTree):
    """Folders (not hidden ones) and the image files in them."""

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        for path in paths:
            if path.name.startswith("."):
                continue
            try:
                if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
                    yield path
            except OSError:
                continue


class OpenImageScreen(ModalScreen[str | None]):
    """Dismisses with the chosen file's path, or None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, question: str, folder: Path | None = None) -> None:
        super().__init__()
        self.question = question
        self.folder = folder or Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label(self.question)
            yield Input(placeholder="path/to/digits.png  (→ completes, tab moves to the folder tree)",
                        suggester=PathSuggester(), id="open-path")
            yield ImageTree(self.folder, id="open-tree")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        path = Path(text).expanduser()
        if path.is_dir():  # browse there instead
            self.query_one(ImageTree).path = path
            self.query_one(ImageTree).focus()
            return
        self.dismiss(text)

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.dismiss(str(event.path))

    def action_cancel(self) -> None:
        self.dismiss(None)
