"""Checkpoints round-trip, are written atomically, and every bad file gives a clear error."""

import copy
import functools
import os
import pickle
import tempfile
import warnings
import zipfile
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings, strategies as st

from digittui import checkpoints
from digittui.errors import CheckpointError
from digittui.models import CNN, VAE, CNNConfig, VAEConfig


def _cnn_file(path: Path) -> CNN:
    torch.manual_seed(0)
    model = CNN(CNNConfig(conv1=8, conv2=8, conv3=8, hidden=16))
    checkpoints.save(path, "cnn", model, epoch=3, metrics={"test_accuracy": 0.5}, train={"seed": 1})
    return model


def test_round_trip_rebuilds_model_from_metadata(tmp_path):
    model = _cnn_file(tmp_path / "cnn.pt")
    ckpt = checkpoints.load(tmp_path / "cnn.pt", "cnn")
    assert ckpt.kind == "cnn" and ckpt.epoch == 3 and ckpt.metrics == {"test_accuracy": 0.5}
    assert ckpt.model.config == model.config
    x = torch.rand(2, 1, 28, 28)
    model.eval()
    assert torch.allclose(ckpt.model(x), model(x))
    assert not ckpt.model.training


def test_a_cnn_loads_with_its_calibration_temperature(tmp_path):
    model = _cnn_file(tmp_path / "plain.pt")
    assert checkpoints.load(tmp_path / "plain.pt").model.temperature == 1.0
    calibration = {"temperature": 0.8, "not_a_digit_below": 0.5, "fitted_on": "validation"}
    checkpoints.save(tmp_path / "calibrated.pt", "cnn", model, calibration=calibration)
    assert checkpoints.load(tmp_path / "calibrated.pt").model.temperature == 0.8


def test_save_leaves_no_temporary_files_and_replaces_atomically(tmp_path):
    _cnn_file(tmp_path / "cnn.pt")
    _cnn_file(tmp_path / "cnn.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cnn.pt"]


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "cnn.pt"
    _cnn_file(path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError):
        _cnn_file(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cnn.pt"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_files_name_the_file(tmp_path, damage):
    path = tmp_path / "cnn.pt"
    _cnn_file(path)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\x00not a checkpoint" * 50,
                      "empty": b""}[damage])
    with pytest.raises(CheckpointError, match=str(path)):
        checkpoints.load(path)


def test_foreign_torch_file_is_refused(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(CheckpointError, match="not a digittui checkpoint"):
        checkpoints.load(path)


def test_wrong_kind_is_refused(tmp_path):
    _cnn_file(tmp_path / "cnn.pt")
    with pytest.raises(CheckpointError, match="holds a CNN, but a VAE was expected"):
        checkpoints.load(tmp_path / "cnn.pt", "vae")


def test_wrong_shapes_are_refused(tmp_path):
    path = tmp_path / "vae.pt"
    checkpoints.save(path, "vae", VAE(VAEConfig(latent_dim=4)))
    payload = torch.load(path, weights_only=True)
    payload["config"]["latent_dim"] = 8  # metadata now disagrees with the stored tensors
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="do not match"):
        checkpoints.load(path, "vae")


def test_nan_weights_are_refused(tmp_path):
    model = CNN(CNNConfig(conv1=8, conv2=8, conv3=8, hidden=16))
    with torch.no_grad():
        model.fc2.weight.fill_(float("nan"))
    checkpoints.save(tmp_path / "nan.pt", "cnn", model)
    with pytest.raises(CheckpointError, match="NaN"):
        checkpoints.load(tmp_path / "nan.pt")


class _Payload:
    """Unpickling this creates a marker file: proof that code from the checkpoint ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("container", ["torch-zip", "raw-pickle"])
def test_crafted_pickle_never_runs(tmp_path, container):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    payload = {"format": "digittui-checkpoint", "version": 1, "kind": "cnn", "x": _Payload(marker)}
    if container == "torch-zip":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error alone reaches the user: no torch warning beside it
        with pytest.raises(CheckpointError, match=str(path)):
            checkpoints.load(path)
    assert not marker.exists()


def test_missing_file_and_default_lookup(tmp_path, monkeypatch):
    with pytest.raises(CheckpointError, match="no such file"):
        checkpoints.load(tmp_path / "absent.pt")
    user = tmp_path / "home" / "checkpoints" / "cnn.pt"
    assert checkpoints.find("cnn")[1] in ("shipped",)
    _cnn_file(user)
    assert checkpoints.find("cnn") == (user, "user-trained")
    assert checkpoints.find("cnn", tmp_path / "x.pt") == (tmp_path / "x.pt", "given")


# Hostile files: bounded before anything is allocated, odd values refused in one line ----------------

def _payload(tmp_path: Path) -> dict:
    _cnn_file(tmp_path / "good.pt")
    return torch.load(tmp_path / "good.pt", weights_only=True)


def _rezip(src: Path, dst: Path, compression: int) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", compression) as zout:
        for entry in zin.infolist():
            zout.writestr(entry.filename, zin.read(entry))


def test_compressed_entries_are_refused_unread(tmp_path, monkeypatch):
    """torch never compresses: a deflated entry may inflate to gigabytes (a 4 MB file held a 3 GiB
    storage), so it is refused from the archive's directory, before torch.load."""
    _cnn_file(tmp_path / "good.pt")
    _rezip(tmp_path / "good.pt", tmp_path / "bomb.pt", zipfile.ZIP_DEFLATED)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load reached"))
    with pytest.raises(CheckpointError, match="compressed.*refused unread"):
        checkpoints.load(tmp_path / "bomb.pt")


def test_files_and_metadata_past_their_bounds_are_refused(tmp_path, monkeypatch):
    _cnn_file(tmp_path / "cnn.pt")
    monkeypatch.setattr(checkpoints, "MAX_FILE_BYTES", 1000)
    with pytest.raises(CheckpointError, match="more than any checkpoint"):
        checkpoints.load(tmp_path / "cnn.pt")
    monkeypatch.undo()
    monkeypatch.setattr(checkpoints, "MAX_PICKLE_BYTES", 100)
    with pytest.raises(CheckpointError, match="its metadata is"):
        checkpoints.load(tmp_path / "cnn.pt")


@pytest.mark.parametrize("config, said", [
    ({"hidden": 1_000_000}, "hidden=1000000 is out of range"),
    ({"conv3": 1024, "hidden": 65536}, "parameters .* the limit is 20,000,000"),
    ({"hidden": "abc"}, "must be a whole number"),
    ({"hidden": True}, "must be a whole number"),
    ({"dropout": float("nan")}, "out of range"),
    ({"bogus": 1}, "'bogus' is not a field"),
    ({"num_classes": 11}, "num_classes=11 is out of range"),
    ("cnn", "must be a table of sizes"),
])
def test_configurations_are_checked_before_a_model_is_built(tmp_path, monkeypatch, config, said):
    payload = _payload(tmp_path)
    payload["config"] = config
    torch.save(payload, tmp_path / "odd.pt")
    built = []  # the device each model was built on: sizes are counted on "meta", which allocates nothing
    cnn_init = CNN.__init__
    monkeypatch.setattr(CNN, "__init__", lambda self, *a: (built.append(torch.empty(0).device.type),
                                                           cnn_init(self, *a))[1])
    with pytest.raises(CheckpointError, match=said):
        checkpoints.load(tmp_path / "odd.pt")
    assert set(built) <= {"meta"}


@pytest.mark.parametrize("key, value, said", [
    ("epoch", "abc", "epoch 'abc' is not a whole number"), ("epoch", [1], "epoch"),
    ("epoch", float("nan"), "epoch nan"), ("epoch", -1, "epoch"), ("epoch", True, "epoch"),
    ("metrics", "a string", "metrics"), ("metrics", {"test_accuracy": "high"}, "metrics"),
    ("kind", ["cnn"], "unknown model kind"), ("kind", None, "unknown model kind"),
    ("resume", "x", "resume state"), ("resume", [1], "resume state"),
    ("train", "x", "training options"), ("train", {"seed": torch.zeros(1)}, "training options"),
    ("version", [1], "format version"), ("calibration", "hot", "calibration"),
    ("calibration", {"temperature": torch.ones(2)}, "calibration"),
])
def test_odd_metadata_values_give_one_line_errors(tmp_path, key, value, said):
    payload = _payload(tmp_path)
    payload[key] = value
    torch.save(payload, tmp_path / "odd.pt")
    with pytest.raises(CheckpointError, match=said) as info:
        checkpoints.load(tmp_path / "odd.pt")
    assert "\n" not in str(info.value) and str(tmp_path / "odd.pt") in str(info.value)


@pytest.mark.parametrize("damage, said", [
    (lambda r: r["optimizer"]["param_groups"][0]["params"].pop(), "optimizer covers"),
    (lambda r: r["optimizer"]["param_groups"].append({"params": [99]}), "optimizer covers"),
    (lambda r: r["optimizer"]["state"].update({0: {"exp_avg": torch.zeros(3, 3)}}), "shape"),
    (lambda r: r.pop("scheduler"), "scheduler"),
    (lambda r: r.update(optimizer="adam"), "optimizer or scheduler"),
])
def test_resume_state_that_does_not_fit_the_model_is_refused(tmp_path, damage, said):
    model = CNN(CNNConfig(conv1=8, conv2=8, conv3=8, hidden=16))
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.rand(2, 1, 28, 28)).sum().backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1)
    resume = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
    checkpoints.save(tmp_path / "ok.pt", "cnn", model, resume=resume)
    assert checkpoints.check_resume(checkpoints.load(tmp_path / "ok.pt"), model)
    damage(resume)
    checkpoints.save(tmp_path / "bad.pt", "cnn", model, resume=resume)
    with pytest.raises(CheckpointError, match=f"cannot resume .*{said}"):
        checkpoints.check_resume(checkpoints.load(tmp_path / "bad.pt"), model)


def test_special_files_are_named_for_what_they_are(tmp_path):
    os.mkfifo(tmp_path / "fifo.pt")
    (tmp_path / "dir.pt").mkdir()
    with pytest.raises(CheckpointError, match="FIFO"):
        checkpoints.load(tmp_path / "fifo.pt")
    with pytest.raises(CheckpointError, match="folder"):
        checkpoints.load(tmp_path / "dir.pt")


@functools.cache
def _small_payload_template() -> dict:
    with tempfile.TemporaryDirectory() as folder:
        return _payload(Path(folder))


def _small_payload() -> dict:
    return copy.deepcopy(_small_payload_template())


_plain = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                    max_size=3),
                      max_leaves=8)
_values = _plain | st.builds(torch.zeros, st.integers(0, 3))


@settings(max_examples=40, deadline=None)
@given(changes=st.dictionaries(st.sampled_from(["epoch", "metrics", "kind", "train", "resume", "config",
                                                "version", "format", "versions", "calibration"]), _values,
                               min_size=1))
def test_any_metadata_loads_or_gives_a_checkpoint_error(changes):
    """Whatever plain values a file holds where the metadata goes, loading it ends in a Checkpoint
    whose fields have their documented types, or in a CheckpointError: never in another exception."""
    with tempfile.TemporaryDirectory() as folder:
        payload = {**_small_payload(), **changes}
        torch.save(payload, Path(folder) / "any.pt")
        try:
            ckpt = checkpoints.load(Path(folder) / "any.pt")
        except CheckpointError as exc:
            assert "\n" not in str(exc)
            return
    assert isinstance(ckpt.epoch, int) and not isinstance(ckpt.epoch, bool)
    assert all(isinstance(k, str) and isinstance(v, (int, float)) for k, v in ckpt.metrics.items())
    assert isinstance(ckpt.train, dict) and (ckpt.resume is None or isinstance(ckpt.resume, dict))
