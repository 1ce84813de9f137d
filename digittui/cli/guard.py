"""How a command ends: user errors as one line, SIGTERM and SIGHUP like Ctrl+C, and a last-resort net
that turns any other exception into one line plus a crash log holding the traceback.

The net is not a fix: each error a user can cause has its own message (digittui.errors); a crash log
means a bug.
"""

from __future__ import annotations

import datetime
import os
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Callable

from rich.markup import escape

from digittui.cli.common import err_console


class Interrupted(KeyboardInterrupt):
    """Ctrl+C, SIGTERM or SIGHUP, raised in the main thread between two steps of the work."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def status(self) -> int:
        return 128 + self.signum


def exit_status(exc: KeyboardInterrupt) -> int:
    """128 + the signal number, as a shell reports a process ended by it (130 for Ctrl+C)."""
    return exc.status if isinstance(exc, Interrupted) else 128 + signal.SIGINT


_received: list[int] = []


def _on_signal(signum: int, frame) -> None:
    # The first signal stops the work; a second one (a double Ctrl+C, or SIGTERM after it) finds the
    # program already stopping and is not raised again inside its clean-up, where it would leave a
    # traceback and perhaps a half-removed temporary file.
    if _received:
        return
    _received.append(signum)
    raise Interrupted(signum)


def install_signal_handlers() -> dict:
    """SIGTERM and SIGHUP (a closed terminal) stop a command as Ctrl+C does: the work ends between two
    steps and a write in progress completes (safeio.signals_deferred). Returns the previous handlers."""
    _received.clear()
    previous = {}
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is not signal.SIG_IGN:  # nohup's choice stays
            previous[signum] = signal.signal(signum, _on_signal)
    return previous


def safe_streams() -> None:
    """Output that the terminal's encoding cannot show (PYTHONIOENCODING=ascii, a file name in
    another script) is written as escapes rather than crashing the command."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def run(command: Callable[[], int | None]) -> int:
    """Run a subcommand's body and turn every way it can end into an exit status and one line."""
    from digittui.errors import DigitError

    previous = install_signal_handlers()
    safe_streams()
    try:
        return int(command() or 0)
    except DigitError as exc:
        err_console.print(f"[bold red]error:[/] {escape(one_line(str(exc)))}", highlight=False)
        return 1
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        err_console.print("interrupted" + (f" ({signal.Signals(signum).name})" if signum != signal.SIGINT else ""))
        return exit_status(exc)
    except BrokenPipeError:  # `digittui ... | head`: the reader left; nothing more to say
        _silence_stdout()
        return 1
    except MemoryError:
        err_console.print("[bold red]error:[/] out of memory: ask for fewer samples, frames or a smaller "
                          "batch", highlight=False)
        return 1
    except Exception as exc:  # the net: a bug, reported in one line with its traceback in a file
        log = write_crash_log(exc)
        where = f"; the details are in {escape(str(log))}" if log else ""
        err_console.print(f"[bold red]error:[/] unexpected {type(exc).__name__}: "
                          f"{escape(one_line(str(exc)))[:300]} (a bug in digittui{where})", highlight=False)
        return 70  # EX_SOFTWARE
    finally:
        for signum, handler in previous.items():
            # Once interrupted the program is ending: a second Ctrl+C during the interpreter's own
            # shutdown would print a traceback from its exit hooks, so it is ignored from here on.
            signal.signal(signum, signal.SIG_IGN if _received else handler)
        export = sys.modules.get("digittui.export")
        if export is not None:
            export.release_reservations()


def one_line(text: str) -> str:
    """An error is one line, even where its message explains in several sentences."""
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _silence_stdout() -> None:
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def write_crash_log(exc: BaseException) -> Path | None:
    """The traceback, with the command line and versions, in a new file; None if none can be written."""
    from digittui import __version__

    text = (f"digittui {__version__}, Python {sys.version.split()[0]}, {datetime.datetime.now().isoformat()}\n"
            f"command: {sys.argv!r}\n\n" + "".join(traceback.format_exception(exc)))
    for folder in _crash_folders():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix="crash-", suffix=".log", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as f:
                f.write(text)
            return Path(name)
        except OSError:
            continue
    return None


def _crash_folders() -> list[Path]:
    folders = []
    try:
        from digittui.paths import user_dir

        folders.append(user_dir() / "crashes")
    except Exception:  # no usable home: the temporary folder still is
        pass
    folders.append(Path(tempfile.gettempdir()))
    return folders
