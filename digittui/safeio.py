"""Files the user names, checked before any work is done with them.

Writing: `check_destination` says whether a result may go to a path (nothing there yet, or a regular
file, in a folder that can be written), and `atomic_write` writes through a temporary file beside it,
renamed over the old one only once complete: never over a device, a FIFO or a folder, and a failure
leaves the old file intact. Reading: `open_regular` opens regular files only, so a FIFO cannot hang a
command and a link to /dev/zero cannot fill the memory.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from digittui.errors import WriteError

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "it is a folder",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ELOOP: "it is a loop of symbolic links",
    errno.ENOENT: "no such file or folder",
    errno.EIO: "an input/output error (a failing disk?)",
}


def reason(exc: OSError) -> str:
    """The cause of an OSError in a few words ("the disk is full"), for a one-line message."""
    return _REASONS.get(exc.errno) or exc.strerror or str(exc)


def kind_of(mode: int) -> str:
    """What a file is, as a user would say it: 'a folder', 'a FIFO (named pipe)', ..."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISREG, "a regular file")):
        if test(mode):
            return name
    return "not a regular file"


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def check_destination(path: str | os.PathLike, what: str, *, need_bytes: int = 0,
                      error: type[WriteError] = WriteError) -> Path:
    """The path to write `what` ("checkpoint", "PNG") to, once it is known to be usable: absent, or a
    regular file we may replace, inside a folder (existing or creatable) we can write, with room for
    `need_bytes`. A symbolic link to a regular file is followed: the file it names is replaced and the
    link kept. Raises `error` (a WriteError) saying what is wrong, before any work that would be lost."""
    path = Path(path).expanduser()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:  # ENOTDIR (a parent is a file), ELOOP, EACCES
        raise error(f"cannot write the {what} to {path}: {reason(exc)}") from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise error(f"cannot write the {what} to {path}: it is {kind_of(st.st_mode)}, "
                             "not a regular file")
        path = Path(os.path.realpath(path))
        if not os.access(path, os.W_OK):
            raise error(f"cannot write the {what} to {path}: the file is read-only"
                             f"{' (the file system is read-only)' if read_only_fs(path.parent) else ''}")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise error(f"cannot write the {what} to {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        cause = "the file system is read-only" if read_only_fs(folder) else "permission denied"
        raise error(f"cannot write the {what} to {path}: {cause} in {folder}")
    if need_bytes:  # the new file is written beside the old one: the old one's room does not count
        vfs = os.statvfs(folder)
        free = vfs.f_bavail * vfs.f_frsize
        if free < need_bytes:
            raise error(f"cannot write the {what} to {path}: {_megabytes(free)} free in {folder}, "
                             f"it needs about {_megabytes(need_bytes)}")
    return path


def read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def temporary_name(path: Path) -> Path:
    """Where `atomic_write` writes before renaming: hidden, beside `path`, named after this process
    so that a later run can tell a dead writer's leftovers (remove_stale_temporaries)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def remove_stale_temporaries(path: Path) -> None:
    """Delete half-written temporaries left beside `path` by a process killed mid-write (SIGKILL
    skips every `finally`): those whose process no longer exists."""
    try:
        leftovers = list(path.parent.glob(f".{path.name}.tmp-*"))
    except OSError:
        return
    for tmp in leftovers:
        pid = tmp.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                tmp.unlink()
            except OSError:
                pass
        except (PermissionError, OverflowError):  # alive and someone else's; or not a pid at all
            pass


_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl+C, SIGTERM and SIGHUP until the block ends: a write in progress completes (or fails
    cleanly) and the interruption is handled right after it, by the handler that was in place.
    Signals are recorded rather than masked: a process-directed signal masked in the main thread
    would go to another thread (torch has several), and Python would still run its handler at once.
    Python runs signal handlers in the main thread only, so other threads need nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    previous = {}
    for signum in _SIGNALS:
        if signal.getsignal(signum) not in (signal.SIG_IGN, None):
            previous[signum] = signal.signal(signum, lambda received, frame: pending.append(received))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:  # the first one stops the program; more would only repeat it
            signal.raise_signal(pending[0])


def atomic_write(path: str | os.PathLike, what: str, write: Callable[[BinaryIO], None], *,
                 need_bytes: int = 0, error: type[WriteError] = WriteError) -> Path:
    """Write a file through `write(f)` on a binary file object, atomically: a temporary file beside
    `path`, flushed to disk, then renamed over it. A crash at any moment leaves the old file or the new
    one, never half of one; a failure (disk full, read-only, permission) leaves the old file intact and
    becomes `error` (a WriteError) naming the cause. Returns the path written (a link's target, if a link)."""
    path = check_destination(path, what, need_bytes=need_bytes, error=error)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise error(f"cannot create the folder {path.parent} for the {what}: {reason(exc)}") from None
    remove_stale_temporaries(path)
    tmp = temporary_name(path)
    with signals_deferred():
        try:
            tmp.unlink(missing_ok=True)  # this process's own leftover from an earlier failure
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666)
            with os.fdopen(fd, "wb") as f:
                write(f)
                f.flush()
                os.fsync(f.fileno())
            _refuse_non_regular(path, what, error)  # something may have appeared there while we worked
            os.replace(tmp, path)
        except OSError as exc:
            raise error(f"cannot write the {what} {path}: {reason(exc)}") from None
        finally:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
    return path


def _refuse_non_regular(path: Path, what: str, error: type[WriteError]) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise error(f"cannot write the {what} to {path}: it became {kind_of(st.st_mode)} "
                         "while the result was computed; left as it is")


def open_regular(path: str | os.PathLike, what: str, error: type[Exception]) -> BinaryIO:
    """Open a file for reading if it is a regular file (a link to one is fine); anything else (a
    folder, a FIFO, a device such as /dev/zero) raises `error` saying what it is. Opening never blocks:
    a FIFO without a writer would otherwise wait forever."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {reason(exc)}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise error(f"cannot read the {what} {path}: it is {kind_of(mode)}, not a file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")

