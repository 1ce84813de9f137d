"""Where files go: the overrides first, then the platform's per-user folders (platformdirs)."""

import sys
from pathlib import Path

import pytest

from digittui import paths


def test_overrides_win(monkeypatch, tmp_path):
    monkeypatch.setenv("DIGITTUI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DIGITTUI_DATA", str(tmp_path / "data"))
    assert paths.user_checkpoint("vae") == tmp_path / "home" / "checkpoints" / "vae.pt"
    assert paths.data_dir() == tmp_path / "data"
    assert paths.data_dir(tmp_path / "given") == tmp_path / "given"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG rules are Linux's")
def test_linux_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("DIGITTUI_HOME")
    monkeypatch.delenv("DIGITTUI_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert paths.user_checkpoint("cnn") == tmp_path / "share" / "digittui" / "checkpoints" / "cnn.pt"
    assert paths.data_dir() == tmp_path / "cache" / "digittui" / "data"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.user_dir() == tmp_path / ".local" / "share" / "digittui"
    assert paths.data_dir() == Path(tmp_path) / ".cache" / "digittui" / "data"
