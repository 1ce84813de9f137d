"""Checkpoints round-trip, are written atomically, and every bad file gives a clear error."""

import pickle
import warnings
from pathlib import Path

import pytest
import torch

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
