"""Shared fixtures: tiny synthetic MNIST files for unit tests, the real MNIST for integration tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.mnist_files import make_mnist

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    """A data directory holding a 256-image training set and a 64-image test set."""
    return make_mnist(tmp_path / "data")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never read or write the real user's checkpoints or exports from a test."""
    monkeypatch.setenv("DIGITTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DIGITTUI_EXPORTS", str(tmp_path / "exports"))


def real_mnist_dir() -> Path | None:
    for candidate in (os.environ.get("DIGITTUI_DATA"), REPO.parent / "shared" / "data"):
        if candidate and (Path(candidate) / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The real MNIST (DIGITTUI_DATA or ../shared/data); tests using it are skipped without it."""
    path = real_mnist_dir()
    if path is None:
        pytest.skip("real MNIST not found: set DIGITTUI_DATA")
    return path
