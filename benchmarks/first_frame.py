"""Time from launching a Python process to the TUI's first frame, and whether torch was needed.

Starts a fresh interpreter that does what the `digittui` command does (builds the parser of every
command, then runs the app), headless; Textual's Ready event (sent
when the first frame has been displayed) records the time, then the app quits. Prints one JSON line.

    python benchmarks/first_frame.py [runs]
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

CHILD = r"""
import sys, time
t0 = float(sys.argv[1])
from pathlib import Path
from digittui.cli import build_parser
build_parser().parse_args([])  # what the `digittui` command does before it opens the app
from digittui.tui import app as tui

class FirstFrame(tui.DigitApp):
    CSS_PATH = Path(tui.__file__).with_name("app.tcss")  # a relative path would resolve against "-c"

    def on_ready(self):
        print(time.time() - t0, "torch" in sys.modules, flush=True)
        self.exit()

FirstFrame().run(headless=True, size=(80, 24))
"""


def once() -> tuple[float, bool]:
    out = subprocess.run([sys.executable, "-c", CHILD, repr(time.time())], capture_output=True, text=True,
                         check=True, timeout=120)
    seconds, torch_loaded = out.stdout.split()[:2]
    return float(seconds), torch_loaded == "True"


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = [once() for _ in range(runs)]
    times = [t for t, _ in results]
    print(json.dumps({"benchmark": "first_frame", "runs": runs, "median_s": round(statistics.median(times), 3),
                      "max_s": round(max(times), 3), "torch_imported_at_first_frame": any(t for _, t in results)}))
