"""Nothing lost, nothing crashes: killed, interrupted and failing runs keep the last good checkpoint."""

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
import torch

from digittui import checkpoints
from digittui.device import resolve
from digittui.events import EpochEnd, TrainControl
from digittui.errors import DeviceError
from digittui.train import TrainConfig, train
from tests.mnist_files import make_mnist

TRAIN_ARGS = ["train", "cnn", "--epochs", "3", "--batch-size", "32", "--device", "cpu", "--seed", "3"]


@pytest.fixture
def mnist_4k(tmp_path):
    """Big enough that an epoch lasts a moment, so a kill can land inside one."""
    return make_mnist(tmp_path / "data", n_train=4096, n_test=64)


@pytest.fixture(autouse=True)
def _no_orphans():
    """Kill any trainer a failing test left behind."""
    yield
    for proc in _started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _started.clear()


_started: list[subprocess.Popen] = []


def _default_signals() -> None:
    """The child starts with the default SIGINT and SIGHUP: a suite run as a background job ignores
    SIGINT, one run under nohup ignores SIGHUP, and digittui rightly keeps an inherited SIG_IGN, which
    would make these tests meaningless."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _start(args, data, script=None):
    env = dict(os.environ, DIGITTUI_DATA=str(data), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "digittui", *args]
    # stdout (a progress bar) is not read: a pipe nobody drains would block the trainer once full.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_signals)
    _started.append(proc)
    return proc


def _communicate(proc, timeout):
    """proc.communicate, failing with what the process was doing if it has not ended in time: whether
    it printed that it was interrupted (the signal arrived) and its state in the kernel (exiting?)."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        where = {}
        for name in ("status", "wchan"):
            try:
                where[name] = Path(f"/proc/{proc.pid}/{name}").read_text()
            except OSError:
                where[name] = "?"
        state = [line for line in where["status"].splitlines() if line.startswith(("State", "Threads"))]
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"not ended after {timeout} s: {state}, wchan {where['wchan']!r}; stderr: {err[-1500:]}")


def _wait_for_epoch(path, epoch, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file():
            try:
                if checkpoints.load(path).epoch >= epoch:
                    return
            except Exception:
                pass  # being replaced right now: try again
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError(f"epoch {epoch} never saved")


def _assert_same_weights(a, b):
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(pa.float(), pb.float(), atol=1e-4), name


def _uninterrupted(data, tmp_path):
    config = TrainConfig(kind="cnn", epochs=3, batch_size=32, device="cpu", seed=3)
    train(config, data, tmp_path / "reference.pt")
    return checkpoints.load(tmp_path / "reference.pt").model


@pytest.mark.slow  # trains MNIST subsets in subprocesses
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(mnist_4k, tmp_path):
    out = tmp_path / "cnn.pt"
    proc = _start([*TRAIN_ARGS, "--output", str(out)], mnist_4k)
    _wait_for_epoch(out, 1, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert checkpoints.load(out).epoch in (1, 2)  # intact, whatever the moment of the kill
    resumed = _start([*TRAIN_ARGS, "--output", str(out), "--resume"], mnist_4k)
    assert resumed.wait(300) == 0, resumed.communicate()
    assert checkpoints.load(out).epoch == 3
    _assert_same_weights(checkpoints.load(out).model, _uninterrupted(mnist_4k, tmp_path))


KILL_DURING_SECOND_SAVE = """
import os, signal, sys
real_fsync, calls = os.fsync, []
def fsync_then_die(fd):
    calls.append(1)
    if len(calls) == 2:  # the second epoch's checkpoint, all written but not yet renamed: die like SIGKILL
        os.kill(os.getpid(), signal.SIGKILL)
    return real_fsync(fd)
os.fsync = fsync_then_die
from digittui.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow  # trains MNIST subsets in subprocesses
def test_sigkill_during_checkpoint_write_keeps_previous(mnist_4k, tmp_path):
    out = tmp_path / "cnn.pt"
    proc = _start([*TRAIN_ARGS, "--output", str(out)], mnist_4k, script=KILL_DURING_SECOND_SAVE)
    proc.wait(300)
    assert proc.returncode == -signal.SIGKILL
    assert checkpoints.load(out).epoch == 1  # the old file, untouched
    assert any(p.name.startswith(".cnn.pt.tmp-") for p in tmp_path.iterdir())  # the torn write
    resumed = _start([*TRAIN_ARGS, "--output", str(out), "--resume"], mnist_4k)
    assert resumed.wait(300) == 0, resumed.communicate()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".pt") or ".tmp-" in p.name) == ["cnn.pt"]
    _assert_same_weights(checkpoints.load(out).model, _uninterrupted(mnist_4k, tmp_path))


@pytest.mark.slow  # trains MNIST subsets in subprocesses
def test_ctrl_c_stops_promptly_and_keeps_last_epoch(mnist_4k, tmp_path):
    out = tmp_path / "cnn.pt"
    proc = _start([*TRAIN_ARGS, "--epochs", "50", "--output", str(out)], mnist_4k)
    _wait_for_epoch(out, 1, proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = _communicate(proc, 30)
    # Between steps, not at the end of the 50-epoch run (~40 s here unloaded); the bound leaves room
    # for a busy 2-core machine, where exiting the interpreter alone took over 2 s.
    assert time.monotonic() - sent < 10.0
    assert proc.returncode == 130 and "Traceback" not in err and "last completed epoch" in err
    assert checkpoints.load(out).epoch >= 1
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def test_out_of_memory_suggests_a_smaller_batch(tiny_mnist, tmp_path, monkeypatch):
    from digittui import train as training

    def oom(*args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(training, "_cnn_step", oom)
    with pytest.raises(DeviceError, match="smaller --batch-size"):
        train(TrainConfig(kind="cnn", epochs=1, batch_size=64, device="cpu"), tiny_mnist, tmp_path / "x.pt")


def test_absent_device_falls_back_with_notice_or_fails_when_required(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    choice = resolve("cuda")
    assert choice.device.type == "cpu" and "not available" in choice.notice
    with pytest.raises(DeviceError, match="not available"):
        resolve("cuda", required=True)
    with pytest.raises(DeviceError, match="unknown device"):
        resolve("tpu")


@pytest.mark.parametrize("damage", ["directory", "wrong-magic", "empty"])
def test_bad_data_files_give_a_remedy(tiny_mnist, damage):
    from digittui.data import load_mnist
    from digittui.errors import DataError

    target = tiny_mnist / "MNIST" / "raw" / "train-images-idx3-ubyte"
    if damage == "directory":
        target.unlink()
        target.mkdir()
    elif damage == "wrong-magic":
        target.write_bytes(b"\x00\x00\x09\x03" + target.read_bytes()[4:])
    else:
        target.write_bytes(b"")
    with pytest.raises(DataError, match="--data-dir|Delete"):
        load_mnist(tiny_mnist, download=False)


TERM_DURING_SECOND_SAVE = """
import os, signal, sys, torch
real_save, calls = torch.save, []
def save_under_signal(obj, f, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:  # the second epoch's checkpoint: SIGTERM arrives while it is being written
        os.kill(os.getpid(), signal.SIGTERM)
    return real_save(obj, f, *args, **kwargs)
torch.save = save_under_signal
from digittui.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow  # trains MNIST subsets in subprocesses
def test_sigterm_during_a_save_lets_it_finish_then_stops(mnist_4k, tmp_path):
    """SIGTERM behaves like Ctrl+C, and one arriving mid-save waits for the save: epoch 2 is kept."""
    out = tmp_path / "cnn.pt"
    proc = _start([*TRAIN_ARGS, "--epochs", "5", "--output", str(out)], mnist_4k, script=TERM_DURING_SECOND_SAVE)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and "holds the last completed epoch" in err
    assert checkpoints.load(out).epoch == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "data") == ["cnn.pt"]


@pytest.mark.slow  # trains MNIST subsets in subprocesses
@pytest.mark.parametrize("signals", [(signal.SIGHUP,), (signal.SIGINT, signal.SIGINT)],
                         ids=["sighup", "two-quick-sigints"])
def test_hangup_and_a_double_ctrl_c_stop_like_one_ctrl_c(mnist_4k, tmp_path, signals):
    """A closed terminal (SIGHUP) stops training as Ctrl+C does; a second Ctrl+C 5 ms after the first
    finds the program already stopping instead of raising inside its clean-up."""
    out = tmp_path / "cnn.pt"
    proc = _start([*TRAIN_ARGS, "--epochs", "50", "--output", str(out)], mnist_4k)
    _wait_for_epoch(out, 1, proc)
    for signum in signals:
        proc.send_signal(signum)
        time.sleep(0.005)
    _, err = _communicate(proc, 60)
    assert proc.returncode == 128 + signals[0], err
    assert "Traceback" not in err and "Exception ignored" not in err and "last completed epoch" in err
    assert checkpoints.load(out).epoch >= 1
    assert [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name] == []


def _read_pty(fd: int, until: Callable[[bytes], bool], timeout: float) -> bytes:
    """What the app writes to its terminal, until `until(output)`, end of output, or the timeout."""
    output, deadline = b"", time.monotonic() + timeout
    while not until(output) and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the app closed its terminal
                break
            if not chunk:
                break
            output += chunk
    return output


def test_the_tui_ends_on_sigterm_and_restores_the_terminal(tmp_path):
    """Killed with SIGTERM, the app leaves the alternate screen and turns mouse reporting off."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: the app in a terminal of its own
        os.environ.update(DIGITTUI_HOME=str(tmp_path / "home"), TERM="xterm-256color")
        os.execv(sys.executable, [sys.executable, "-m", "digittui"])
    try:
        output = _read_pty(fd, lambda out: b"digittui" in out, 120)  # the first frame's header
        assert b"digittui" in output
        os.kill(pid, signal.SIGTERM)
        output += _read_pty(fd, lambda out: False, 60)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    assert os.waitstatus_to_exitcode(status) == 128 + signal.SIGTERM
    assert output.rfind(b"\x1b[?1049l") > output.rfind(b"\x1b[?1049h") >= 0  # alternate screen left
    assert output.rfind(b"\x1b[?1000l") > output.rfind(b"\x1b[?1000h") >= 0  # mouse reporting off


# A failed save keeps the work; a place the work cannot go is refused before it starts -------------

SMALL = dict(kind="cnn", epochs=3, batch_size=64, device="cpu", model={"conv1": 8, "conv2": 8, "conv3": 8, "hidden": 16})


def _failing_after(monkeypatch, folder, saves_ok: int, cause: str = "the disk is full"):
    """Writes into `folder` fail (as a full disk would) after its first `saves_ok`."""
    from digittui import safeio
    from digittui.errors import WriteError

    real, done = safeio.atomic_write, []

    def atomic_write(path, what, write, **kwargs):
        if Path(path).parent == folder:
            if len(done) >= saves_ok:
                raise WriteError(f"cannot write the {what} {path}: {cause}")
            done.append(path)
        return real(path, what, write, **kwargs)

    monkeypatch.setattr(safeio, "atomic_write", atomic_write)


def test_a_failed_save_rescues_the_epoch_and_keeps_the_previous_checkpoint(tiny_mnist, tmp_path, monkeypatch):
    from digittui.errors import WriteError

    out = tmp_path / "out" / "cnn.pt"
    _failing_after(monkeypatch, out.parent, saves_ok=1)
    with pytest.raises(WriteError) as info:
        train(TrainConfig(**SMALL), tiny_mnist, out)
    message = str(info.value)
    assert "could not save epoch 2" in message and "the disk is full" in message
    assert f"{out} still holds epoch 1" in message and "\n" not in message
    rescued = Path(re.search(r"weights are in (\S+) \(", message)[1])
    assert rescued.parent == tmp_path / "home" / "rescued"  # the user's data folder, not beside the output
    assert checkpoints.load(rescued).epoch == 2 and checkpoints.load(rescued).resume is not None
    assert checkpoints.load(out).epoch == 1
    assert sorted(p.name for p in out.parent.iterdir()) == ["cnn.pt"]
    resumed = train(TrainConfig(**SMALL), tiny_mnist, rescued, resume=True)  # the rescued file continues
    assert resumed.status == "completed" and checkpoints.load(rescued).epoch == 3


def test_a_failed_save_through_the_cli_is_one_line_and_exit_1(tiny_mnist, tmp_path, monkeypatch, capsys):
    from digittui.cli import main

    out = tmp_path / "ro" / "cnn.pt"
    _failing_after(monkeypatch, out.parent, saves_ok=0, cause="the file system is read-only")
    code = main(["train", "cnn", "--epochs", "1", "--batch-size", "64", "--device", "cpu", "--data-dir",
                 str(tiny_mnist), "-o", str(out), "--model", "hidden=16"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "\n" not in err and "Traceback" not in err
    assert "could not save epoch 1" in err and "read-only" in err and f"{out} is unchanged" in err
    assert checkpoints.load(Path(re.search(r"weights are in (\S+) \(", err)[1])).epoch == 1
    assert not out.exists()


@pytest.mark.parametrize("make, said", [
    (lambda p: p.mkdir(parents=True), "it is a folder"),
    (lambda p: (p.parent.mkdir(), os.mkfifo(p)), "it is a FIFO"),
    (lambda p: p.parent.write_text("a file"), "is a file, not a folder|a part of the path is a file"),
])
def test_the_output_is_checked_before_any_data_is_read(tmp_path, make, said):
    out = tmp_path / "where" / "cnn.pt"
    make(out)
    from digittui.errors import WriteError

    with pytest.raises(WriteError, match=said):
        train(TrainConfig(**SMALL), tmp_path / "no-data-here", out)  # refused before looking for MNIST


def test_a_batch_larger_than_the_training_set_is_refused(tiny_mnist, tmp_path):
    from digittui.errors import LimitError

    with pytest.raises(LimitError, match="more than the training set holds"):
        train(TrainConfig(**{**SMALL, "batch_size": 10_000}), tiny_mnist, tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_resume_state_that_does_not_fit_is_refused_before_training(tiny_mnist, tmp_path):
    from digittui.errors import CheckpointError

    out = tmp_path / "cnn.pt"
    control = TrainControl()
    train(TrainConfig(**SMALL), tiny_mnist, out, control=control,
          on_event=lambda e: control.cancel() if isinstance(e, EpochEnd) else None)  # epoch 1 of 3
    payload = torch.load(out, weights_only=True)
    payload["resume"]["optimizer"]["param_groups"][0]["params"] = [0]
    torch.save(payload, out)
    with pytest.raises(CheckpointError, match="cannot resume .* optimizer covers 1 parameters"):
        train(TrainConfig(**SMALL), tiny_mnist, out, resume=True)


def test_an_interrupted_command_ignores_further_signals_while_it_exits():
    """After the first signal stops a command, a second one finds the handlers ignoring it (Python's
    own SIGINT handler would raise inside the interpreter's exit hooks); a command that ends normally
    leaves the handlers as they were."""
    from digittui.cli import guard

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    before = {s: signal.getsignal(s) for s in handled}
    try:
        assert guard.run(lambda: 0) == 0
        assert {s: signal.getsignal(s) for s in handled} == before

        def stopped_by_sigterm():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here, long before this ends

        assert guard.run(stopped_by_sigterm) == 128 + signal.SIGTERM
        assert all(signal.getsignal(s) is signal.SIG_IGN for s in handled)
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
