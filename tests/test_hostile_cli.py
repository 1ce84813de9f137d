"""The bad-input corpus, through the CLI as a user runs it: each case ends with its exit code and one
line saying what is wrong, no traceback, and every file that was there before exactly as it was,
with nothing half-written left beside it. (Issue #13's groups are named in each case's id.)"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch

from digittui import checkpoints
from digittui.cli import main
from tests.conftest import REPO
from tests.mnist_files import make_mnist


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root: its type, and for regular files their size and content hash."""
    entries = {}
    for path in sorted(root.rglob("*")):
        st = os.lstat(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else None
        entries[str(path.relative_to(root))] = (stat.S_IFMT(st.st_mode), st.st_size if digest else 0, digest)
    return entries


@dataclass
class Case:
    args: list[str]  # "{tmp}" is the case's folder, "{cnn}" a copy of the shipped CNN in it
    code: int
    said: str  # a regular expression the last line of stderr must match
    setup: Callable[[Path], None] | None = None
    new_files: list[str] = field(default_factory=list)  # files the command may create


def _fifo(name):
    return lambda tmp: os.mkfifo(tmp / name)


def _folder(name):
    return lambda tmp: (tmp / name).mkdir()


def _data(damage=None):
    def setup(tmp):
        make_mnist(tmp / "data", n_train=64, n_test=16)
        if damage:
            damage(tmp / "data" / "MNIST" / "raw")
    return setup


def _vae():
    return lambda tmp: shutil.copy(REPO / "assets" / "vae.pt", tmp / "vae.pt")


def _in_use(kind, setup, name="cnn.pt"):
    """`setup`, then the file `name` in the case's folder made the `kind` weights digittui uses."""
    def both(tmp):
        from digittui import weights

        setup(tmp)
        if not (tmp / name).exists():
            shutil.copy(tmp / "vae.pt", tmp / name)
        weights.choose(kind, tmp / name)
    return both


def _odd_checkpoint(key, value):
    def setup(tmp):
        payload = torch.load(tmp / "cnn.pt", weights_only=True)
        payload[key] = value
        torch.save(payload, tmp / "odd.pt")
    return setup


def _image(name, array, mode=None):
    def setup(tmp):
        from PIL import Image

        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(array, mode=mode).save(tmp / name)
    return setup


DIGIT = np.full((28, 28), 255, np.uint8)
DIGIT[5:22, 12:16] = 0
INF = np.zeros((28, 28), np.float32)
INF[5:22, 12:16] = np.inf
DATA = ["--data-dir", "{tmp}/data", "--device", "cpu"]
BIG = "10000000"  # beyond the memory of any machine this runs on, at the measured cost per item

CASES = {
    # 1: a destination that is not a regular file is refused before the work, and left as it is
    "1-strip-to-fifo": Case(["checkpoint", "strip", "{cnn}", "{tmp}/out.pt"], 1, "it is a FIFO", _fifo("out.pt")),
    "1-strip-to-device-link": Case(["checkpoint", "strip", "{cnn}", "{tmp}/null.pt"], 1, "character device",
                                   lambda tmp: (tmp / "null.pt").symlink_to(os.devnull)),
    "1-strip-to-folder": Case(["checkpoint", "strip", "{cnn}", "{tmp}/out.pt"], 1, "it is a folder",
                              _folder("out.pt")),
    "1-strip-under-a-file": Case(["checkpoint", "strip", "{cnn}", "{cnn}/sub/out.pt"], 1, "is a file, not a folder"),
    "1-prior-of-a-cnn": Case(["checkpoint", "prior", "{cnn}", "{tmp}/out.pt"], 1, "it holds a CNN, but a VAE"),
    "1-prior-onto-its-source": Case(["checkpoint", "prior", "{tmp}/vae.pt", "{tmp}/vae.pt"], 1, "is SRC", _vae()),
    "1-prior-to-fifo": Case(["checkpoint", "prior", "{tmp}/vae.pt", "{tmp}/out.pt"], 1, "it is a FIFO",
                            lambda tmp: (_vae()(tmp), os.mkfifo(tmp / "out.pt"))),
    "1-prior-more-gaussians-than-images": Case(
        ["checkpoint", "prior", "{tmp}/vae.pt", "{tmp}/out.pt", "--holdout", "0", "--data-dir", "{tmp}/data"], 1,
        "100 components need at least as many training images; the fit has 64", lambda tmp: (_vae()(tmp), _data()(tmp))),
    "2-prior-gaussians-over-limit": Case(["checkpoint", "prior", "{tmp}/vae.pt", "{tmp}/out.pt", "--components", "1001"],
                                         2, "over the limit of 1,000"),
    "1-strip-over-the-cnn-in-use": Case(["checkpoint", "strip", "{tmp}/vae.pt", "{cnn}"], 1,
                                        "cnn.pt holds the CNN in use: .* add --replace", _in_use("cnn", _vae())),
    "1-train-over-the-cnn-in-use": Case(["train", "cnn", "-o", "{cnn}", *DATA], 1, "holds the CNN in use",
                                        _in_use("cnn", _data())),
    "1-prior-over-the-vae-in-use": Case(["checkpoint", "prior", "{tmp}/vae.pt", "{tmp}/used.pt"], 1,
                                        "used.pt holds the VAE in use", _in_use("vae", _vae(), "used.pt")),
    "1-train-to-fifo": Case(["train", "cnn", "-o", "{tmp}/out.pt", *DATA], 1, "it is a FIFO",
                            lambda tmp: (_data()(tmp), os.mkfifo(tmp / "out.pt"))),
    "1-train-to-folder": Case(["train", "cnn", "-o", "{tmp}/out.pt", *DATA], 1, "it is a folder",
                              lambda tmp: (_data()(tmp), (tmp / "out.pt").mkdir())),
    "1-generate-overwrite-fifo": Case(["generate", "7", "--output", "{tmp}/g.png", "--overwrite"], 1, "FIFO",
                                      _fifo("g.png")),
    "1-explore-overwrite-folder": Case(["explore", "sample", "-o", "{tmp}/s.png", "--overwrite"], 1, "folder",
                                       _folder("s.png")),
    # 3: reads never hang on a FIFO nor run on /dev/zero
    "3-data-fifo": Case(["train", "cnn", "-o", "{tmp}/out.pt", *DATA], 1, "it is a FIFO",
                        _data(lambda raw: ((raw / "train-images-idx3-ubyte").unlink(),
                                           os.mkfifo(raw / "train-images-idx3-ubyte")))),
    "3-data-dev-zero": Case(["evaluate", *DATA], 1, "character device",
                            _data(lambda raw: ((raw / "t10k-images-idx3-ubyte").unlink(),
                                               (raw / "t10k-images-idx3-ubyte").symlink_to("/dev/zero")))),
    # 4: memory bombs refused from an estimate, before the work
    "4-generate-count": Case(["generate", "7", "--count", BIG], 1, "--count: .* at most [0-9,]+ at once"),
    "4-explore-sample": Case(["explore", "sample", "-n", BIG], 1, "--count: .* at most"),
    "4-explore-morph-frames": Case(["explore", "morph", "3", "8", "--frames", BIG], 1, "--frames: .* at most"),
    "4-latent-map-grid": Case(["explore", "latent-map", "--grid", "100000"], 1, "--grid: .* at most"),
    "4-train-batch": Case(["train", "cnn", "--batch-size", BIG, "-o", "{tmp}/out.pt", *DATA], 1,
                          "batch size: .* at most", _data()),
    "4-train-huge-model": Case(["train", "cnn", "--model", "hidden=1000000", "-o", "{tmp}/out.pt"], 2,
                               r"hidden=1000000 is out of range \(1-65536\)"),
    "4-train-too-many-parameters": Case(["train", "cnn", "--model", "conv3=1024", "--model", "hidden=65536",
                                         "-o", "{tmp}/out.pt", *DATA], 1, "parameters .* the limit is 20,000,000",
                                        _data()),
    "4-train-negative-refine": Case(["train", "vae", "--model", "refine=-1"], 2, r"refine=-1 is out of range \(0-1024\)"),
    "4-train-fractional-width": Case(["train", "cnn", "--model", "conv1=1.5"], 2, "'1.5' is not a whole number"),
    "4-train-negative-holdout": Case(["train", "cnn", "--holdout", "-3"], 2, r"-3 must be 0 \(off\) or more"),
    "4-train-huge-holdout": Case(["train", "cnn", "--holdout", "10000001"], 2, "10000001 is unreasonably large"),
    "4-checkpoint-huge-config": Case(["checkpoint", "info", "{tmp}/odd.pt"], 1, "out of range",
                                     _odd_checkpoint("config", {"hidden": 1_000_000})),
    # 7: user text never read as markup
    "7-markup-in-missing-path": Case(["classify", "{tmp}/a[/b]/x.png"], 1, r"\[/b\]/x\.png: no such file|a\[/b\]"),
    "7-markup-in-checkpoint-path": Case(["checkpoint", "info", "{tmp}/[/bold]x.pt"], 1, r"\[/bold\]x\.pt"),
    # 9: odd metadata values
    "9-epoch-abc": Case(["checkpoint", "info", "{tmp}/odd.pt"], 1, "epoch 'abc' is not a whole number",
                        _odd_checkpoint("epoch", "abc")),
    "9-metrics-string": Case(["checkpoint", "info", "{tmp}/odd.pt"], 1, "metrics .* not a table of numbers",
                             _odd_checkpoint("metrics", "high")),
    "9-kind-list": Case(["checkpoint", "info", "{tmp}/odd.pt"], 1, "unknown model kind",
                        _odd_checkpoint("kind", ["cnn"])),
    "9-resume-not-a-dict": Case(["checkpoint", "info", "{tmp}/odd.pt"], 1, "resume state",
                                _odd_checkpoint("resume", [1, 2])),
    # 10: data that is not usable
    "10-zero-images": Case(["evaluate", *DATA], 1, "holds no images", _data(lambda raw: (
        (raw / "t10k-images-idx3-ubyte").write_bytes(struct.pack(">HBB3I", 0, 8, 3, 0, 28, 28)),
        (raw / "t10k-labels-idx1-ubyte").write_bytes(struct.pack(">HBBI", 0, 8, 1, 0))))),
    # 11, 12, 15: values out of range
    "11-generate-seed": Case(["generate", "7", "--seed", str(2**70)], 2, "out of range: seeds run from 0"),
    "11-train-seed": Case(["train", "cnn", "--seed", str(2**70)], 2, "out of range: seeds run from 0"),
    "11-morph-seed": Case(["explore", "morph", "3", "8", "--seed", "-1"], 2, "out of range"),
    "12-device-cpu-abc": Case(["generate", "7", "--device", "cpu:abc"], 1, "unknown device 'cpu:abc'"),
    "12-device-cpu-0-0": Case(["classify", "x.png", "--device", "cpu:0:0"], 1, "unknown device"),
    "15-extent": Case(["explore", "latent-map", "--extent", "1e300"], 2, "more than 1000"),
    # 13: serve's one-line errors
    "13-serve-port-70000": Case(["serve", "--port", "70000"], 2, "ports run from 1 to 65535"),
    "13-serve-bad-public-url": Case(["serve", "--public-url", "javascript:alert(1)"], 2, "not an http"),
    # 16, 18: odd image files, reported as what they are
    "16-float-tiff-inf": Case(["classify", "{tmp}/inf.tiff"], 1, "NaN or infinite", _image("inf.tiff", INF, "F")),
    "18-image-is-a-folder": Case(["classify", "{tmp}/d.png"], 1, "it is a folder", _folder("d.png")),
    "18-image-is-a-fifo": Case(["classify", "{tmp}/f.png"], 1, "it is a FIFO", _fifo("f.png")),
    "18-idx-255-dimensions": Case(["evaluate", *DATA], 1, "255 dimensions", _data(lambda raw: (
        raw / "t10k-images-idx3-ubyte").write_bytes(bytes([0, 0, 8, 255]) + bytes(4 * 255)))),
}


@pytest.fixture
def case_dir(tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    shutil.copy(REPO / "assets" / "cnn.pt", folder / "cnn.pt")
    return folder


@pytest.mark.parametrize("name", CASES)
def test_bad_input(name, case_dir, capsys):
    case = CASES[name]
    if case.setup:
        case.setup(case_dir)
    before = _snapshot(case_dir)
    args = [a.format(tmp=case_dir, cnn=case_dir / "cnn.pt") for a in case.args]
    code = _run(args)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == case.code, err
    assert "Traceback" not in err and lines, err
    if code == 2:  # argparse: its usage, then one line of error
        assert lines[0].startswith("usage:") and lines[-1].startswith("digittui ") and "error:" in lines[-1]
    else:
        assert len(lines) == 1, err
    assert __import__("re").search(case.said, lines[-1]), lines[-1]
    after = _snapshot(case_dir)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing lost or changed
    assert sorted(set(after) - set(before)) == sorted(case.new_files)  # nothing half-written left


def _run(args: list[str]) -> int:
    try:
        return main(args)
    except SystemExit as exc:  # argparse
        return exc.code


def test_paths_print_as_they_are(case_dir, capsys):
    """Brackets in a path are text: `[draft]` was eaten as markup, `[/` crashed the command."""
    for name in ("[draft]/scan.png", "a[/b]/x.png", "[bold]c[/].png"):
        _image(name, DIGIT)(case_dir)
    args = ["classify", *(str(case_dir / n) for n in ("[draft]/scan.png", "a[/b]/x.png", "[bold]c[/].png"))]
    assert main(args) == 0
    out = capsys.readouterr().out
    for name in ("[draft]/scan.png", "a[/b]/x.png", "[bold]c[/].png"):
        assert f"{case_dir / name}: 1 " in out


def test_the_serve_hint_keeps_its_brackets(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "digittui.webserver", None)  # textual-serve not installed
    assert main(["serve"]) == 1
    assert "pip install 'digittui[serve]'" in capsys.readouterr().err


def test_serve_on_a_taken_port_says_so(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["serve", "--port", str(taken.getsockname()[1])]) == 1
    err = capsys.readouterr().err
    assert "is already in use; choose another with --port" in err and "Traceback" not in err


def test_serve_on_an_unknown_host_says_so(capsys):
    assert main(["serve", "--host", "no-such-host.invalid", "--port", "8799"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert "cannot be resolved" in err[-1] and "Traceback" not in "".join(err)


def test_an_unexpected_error_is_one_line_and_a_crash_log(monkeypatch, capsys):
    """The net under every command: a bug prints one line naming a file that holds the traceback."""
    from digittui.cli import checkpoint

    def bug(args):
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(checkpoint, "run_info", bug)
    assert main(["checkpoint", "info"]) == 70
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "unexpected RuntimeError: something nobody foresaw" in err
    log = Path(err.rsplit("the details are in ", 1)[1].rstrip(")"))
    assert "Traceback" in log.read_text() and "something nobody foresaw" in log.read_text()


def test_the_tui_needs_a_terminal(monkeypatch, capsys):
    """`setsid digittui </dev/null` spun a core forever; now it says why it cannot run."""
    assert main([]) == 1  # pytest's stdin is not a terminal
    assert "needs a terminal, and stdin is not one" in capsys.readouterr().err
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    monkeypatch.setenv("TERM", "dumb")
    assert main([]) == 1
    assert "TERM=dumb" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--vae", "other.pt"], ["--cnn", "other.pt"], ["--device", "cpu"],
                                    ["--data-dir", "elsewhere"]])
def test_a_ui_option_before_a_command_is_refused_not_ignored(option, capsys):
    """`digittui --vae FILE evaluate` evaluated the VAE in use, not FILE, without a word."""
    with pytest.raises(SystemExit) as exit_:
        main([*option, "evaluate"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and f"put it after the command: digittui evaluate {option[0]} ..." in err


def test_without_a_terminal_the_command_exits_at_once():
    proc = subprocess.run([sys.executable, "-m", "digittui"], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60, start_new_session=True)
    assert proc.returncode == 1 and "needs a terminal" in proc.stderr


def test_an_ascii_terminal_gets_escapes_not_a_crash(tmp_path):
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    proc = subprocess.run([sys.executable, "-m", "digittui", "classify", str(tmp_path / "ünïcødé-✓.png")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "\\xfcn\\xefc\\xf8d\\xe9-\\u2713.png: no such file" in proc.stderr


def test_a_checkpoint_used_elsewhere_is_never_replaced_by_a_failed_strip(case_dir, capsys):
    before = (case_dir / "cnn.pt").read_bytes()
    assert main(["checkpoint", "strip", str(case_dir / "cnn.pt"), str(case_dir / "cnn.pt" / "x")]) == 1
    assert (case_dir / "cnn.pt").read_bytes() == before
    assert checkpoints.load(case_dir / "cnn.pt").epoch > 0


def test_no_home_folder_is_one_line_and_the_shipped_weights_still_serve(monkeypatch, capsys, tmp_path):
    """HOME unset for a user id with no passwd entry (a bare container): nowhere for per-user files."""
    import pwd

    for name in ("HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "DIGITTUI_HOME", "DIGITTUI_DATA"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pwd, "getpwuid", lambda uid: (_ for _ in ()).throw(KeyError(uid)))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "cnn", "--device", "cpu"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "no home folder" in err and "Set HOME, or DIGITTUI_HOME" in err
    assert main(["checkpoint", "info", "--json"]) == 0  # the shipped weights need no home folder
    assert capsys.readouterr().out.count('"source": "shipped"') == 3  # the CNN, the VAE and the decider
    assert list(tmp_path.iterdir()) == []  # nothing written to a relative "~" folder


def test_the_shipped_weights_are_replaced_only_when_asked(case_dir, monkeypatch, capsys):
    from digittui import paths

    shutil.copytree(REPO / "assets", case_dir / "assets")
    monkeypatch.setattr(paths, "assets_dir", lambda: case_dir / "assets")
    guide = case_dir / "assets" / "guide.pt"
    before = guide.read_bytes()
    assert main(["checkpoint", "strip", str(case_dir / "cnn.pt"), str(guide)]) == 1
    assert "holds generation's shipped guide" in capsys.readouterr().err
    assert guide.read_bytes() == before
    assert main(["checkpoint", "strip", str(case_dir / "cnn.pt"), str(guide), "--replace"]) == 0
    assert checkpoints.load(guide).metrics == checkpoints.load(case_dir / "cnn.pt").metrics
