"""Nothing lost, nothing crashes: killed, interrupted and failing runs keep the last good checkpoint."""

import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from digittui import checkpoints
from digittui.device import resolve
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


def _start(args, data, script=None):
    env = dict(os.environ, DIGITTUI_DATA=str(data), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "digittui", *args]
    # stdout (a progress bar) is not read: a pipe nobody drains would block the trainer once full.
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _started.append(proc)
    return proc


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
import os, signal, sys, torch
real_save, calls = torch.save, []
def save_then_die(obj, f, *args, **kwargs):
    calls.append(1)
    if len(calls) == 2:  # the second epoch's checkpoint: write part of it, then die like SIGKILL
        f.write(b"PK\\x03\\x04 half a checkpoint")
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(obj, f, *args, **kwargs)
torch.save = save_then_die
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
    _, err = proc.communicate(timeout=30)
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
