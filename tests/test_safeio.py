"""Destinations are checked before the work, writes are atomic and never replace anything but a
regular file, reads open only regular files of a bounded size."""

from __future__ import annotations

import errno
import os
import signal
import stat
import threading

import pytest

from digittui import safeio
from digittui.errors import DataError, WriteError


def _special(tmp_path, what):
    """A path holding something that is not a regular file, and a check that it is still there."""
    path = tmp_path / f"{what}.out"
    if what == "fifo":
        os.mkfifo(path)
        return path, lambda: stat.S_ISFIFO(os.lstat(path).st_mode)
    if what == "folder":
        path.mkdir()
        return path, path.is_dir
    if what == "link-to-device":
        path.symlink_to(os.devnull)
        return path, lambda: path.is_symlink() and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    if what == "link-to-folder":
        (tmp_path / "real").mkdir()
        path.symlink_to(tmp_path / "real")
        return path, lambda: (tmp_path / "real").is_dir() and not any((tmp_path / "real").iterdir())
    raise AssertionError(what)


@pytest.mark.parametrize("what, said", [("fifo", "FIFO"), ("folder", "folder"),
                                        ("link-to-device", "character device"), ("link-to-folder", "folder")])
def test_a_destination_that_is_not_a_regular_file_is_refused_and_kept(tmp_path, what, said):
    path, still_there = _special(tmp_path, what)
    with pytest.raises(WriteError, match=f"it is a {said}"):
        safeio.check_destination(path, "checkpoint")
    with pytest.raises(WriteError, match=f"it is a {said}"):
        safeio.atomic_write(path, "checkpoint", lambda f: f.write(b"data"))
    assert still_there()
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_a_parent_that_is_a_file_is_named(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteError, match="is a file, not a folder|a part of the path is a file"):
        safeio.check_destination(tmp_path / "file" / "sub" / "out.pt", "checkpoint")


def test_missing_folders_are_fine_and_made_by_the_write(tmp_path):
    target = tmp_path / "a" / "b" / "out.bin"
    assert safeio.check_destination(target, "x") == target
    safeio.atomic_write(target, "x", lambda f: f.write(b"123"))
    assert target.read_bytes() == b"123"


def test_a_link_to_a_regular_file_writes_the_file_and_keeps_the_link(tmp_path):
    real = tmp_path / "real.pt"
    real.write_bytes(b"old")
    link = tmp_path / "link.pt"
    link.symlink_to(real)
    safeio.atomic_write(link, "checkpoint", lambda f: f.write(b"new"))
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_not_enough_room_is_said_before_the_work(tmp_path):
    with pytest.raises(WriteError, match=r"free in .*it needs about"):
        safeio.check_destination(tmp_path / "x.pt", "checkpoint", need_bytes=10**18)


@pytest.mark.parametrize("code, said", [(errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only"),
                                        (errno.EACCES, "permission denied"), (errno.EDQUOT, "quota")])
def test_a_failed_write_names_its_cause_and_keeps_the_old_file(tmp_path, code, said):
    path = tmp_path / "out.pt"
    path.write_bytes(b"previous")

    def fail(f):
        f.write(b"half")
        raise OSError(code, os.strerror(code))

    with pytest.raises(WriteError, match=said):
        safeio.atomic_write(path, "checkpoint", fail)
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.pt"]


def test_a_special_file_appearing_during_the_work_is_not_replaced(tmp_path):
    path = tmp_path / "out.png"

    def write_while_a_fifo_appears(f):
        f.write(b"png")
        os.mkfifo(path)

    with pytest.raises(WriteError, match="became a FIFO"):
        safeio.atomic_write(path, "PNG", write_while_a_fifo_appears)
    assert stat.S_ISFIFO(os.lstat(path).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    path = tmp_path / "grid.png"
    dead = tmp_path / ".grid.png.tmp-999999999"  # above any pid_max: no such process
    alive = tmp_path / f".grid.png.tmp-{os.getppid()}"
    dead.write_bytes(b"torn")
    alive.write_bytes(b"in progress")
    safeio.atomic_write(path, "PNG", lambda f: f.write(b"png"))
    assert not dead.exists() and alive.exists() and path.read_bytes() == b"png"


def test_signals_wait_for_the_write_in_progress(tmp_path):
    path = tmp_path / "out.pt"
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda *args: seen.append("signal"))
    try:
        def write(f):
            os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-write
            f.write(b"complete")
            seen.append("written")

        safeio.atomic_write(path, "checkpoint", write)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert seen == ["written", "signal"] and path.read_bytes() == b"complete"


def test_signals_deferred_is_a_no_op_off_the_main_thread():
    done = []
    thread = threading.Thread(target=lambda: done.append(safeio.signals_deferred().__enter__() is None))
    thread.start()
    thread.join()
    assert done == [True]


@pytest.mark.parametrize("what, said", [("fifo", "FIFO"), ("folder", "folder"), ("link-to-device", "device")])
def test_reading_opens_regular_files_only_and_never_blocks(tmp_path, what, said):
    path, _ = _special(tmp_path, what)
    with pytest.raises(DataError, match=said):
        safeio.open_regular(path, "MNIST file", DataError)



def test_a_link_to_dev_zero_is_refused_unread(tmp_path):
    link = tmp_path / "zero"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataError, match="character device"):
        safeio.open_regular(link, "file", DataError)
