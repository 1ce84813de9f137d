"""The CNN's training options for reading in the wild: --wild, --outliers, --holdout."""

import json

import pytest
import torch

from digittui import checkpoints, train as training
from digittui.calibration import Calibration
from digittui.cli import main
from digittui.data import load_mnist, split_holdout
from digittui.errors import DataError


class FixedLogits(torch.nn.Module):
    """A stand-in model whose output is a parameter: its gradient is the loss's gradient per logit."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.logits = torch.nn.Parameter(torch.randn(n, 16, generator=torch.Generator().manual_seed(0)))

    def forward(self, x):
        return self.logits


def test_outlier_loss_never_reaches_the_spare_units():
    model = FixedLogits(6)
    y = torch.tensor([3, 7, -1, -1, -1, -1])
    training._cnn_outlier_step(0.5)(model, torch.zeros(6, 1, 28, 28), y).backward()
    grad = model.logits.grad
    assert grad[2:, :10].abs().sum() > 0  # outliers: pushed towards uniform over the digits
    assert grad[2:, 10:].abs().sum() == 0  # and nothing else
    assert grad[:2, 10:].abs().sum() > 0  # digits: cross-entropy pushes the spare units down, as before


def test_without_outliers_the_loss_is_plain_cross_entropy():
    model = FixedLogits(4)
    y = torch.tensor([1, 2, 3, 4])
    with_zero = training._cnn_outlier_step(0.0)(model, None, y)
    assert torch.allclose(with_zero, training._cnn_step(model, None, y))


def test_holdout_is_kept_out_and_too_large_a_holdout_is_refused(tiny_mnist):
    digits = load_mnist(tiny_mnist, train=True)
    kept, val = split_holdout(digits, 56)
    assert len(kept) == len(digits) - 56 and len(val) == 56
    assert torch.equal(val.images, digits.images[-56:]) and torch.equal(kept.images, digits.images[:-56])
    assert split_holdout(digits, 0) == (digits, None)
    with pytest.raises(DataError, match="nothing to train on"):
        split_holdout(digits, len(digits))


def test_batches_with_every_option_are_labelled_and_sized(tiny_mnist):
    digits = load_mnist(tiny_mnist, train=True)
    config = training.TrainConfig(augment=True, wild=0.5, outliers=0.3, batch_size=64).resolved()
    bank = torch.rand(10, 1, 28, 28)
    x, y = training._batch(config, digits, torch.arange(64), torch.Generator().manual_seed(0), bank)
    assert x.shape == (64 + 16, 1, 28, 28) and (y[:64] >= 0).all() and (y[64:] == -1).all()
    x2, _ = training._batch(config, digits, torch.arange(64), torch.Generator().manual_seed(0), bank)
    assert torch.equal(x, x2)  # the same generator state, the same batch


def test_a_run_with_holdout_stores_its_calibration(tmp_path, tiny_mnist, capsys):
    out = tmp_path / "cnn.pt"
    assert main(["train", "cnn", "--epochs", "1", "--batch-size", "64", "--data-dir", str(tiny_mnist), "--device",
                 "cpu", "--wild", "0.5", "--outliers", "0.3", "--holdout", "64", "-o", str(out), "--json"]) == 0
    ckpt = checkpoints.load(out)
    calibration = Calibration.from_dict(ckpt.calibration)
    assert calibration.fitted_on == "validation: the last 64 training images"
    assert calibration.temperature != 1.0 and ckpt.train["holdout"] == 64
    stripped = checkpoints.strip(out, tmp_path / "stripped.pt")
    assert checkpoints.load(stripped).calibration == ckpt.calibration
    capsys.readouterr()
    assert main(["train", "vae", "--wild", "0.5", "--data-dir", str(tiny_mnist)]) == 2
    assert "options of the CNN only" in capsys.readouterr().err


def test_outliers_are_distorted_like_the_digits(tiny_mnist):
    """Blank "letters" stay blank without --wild; with it, some gain the digits' distortions (noise)."""
    digits = load_mnist(tiny_mnist, train=True)
    blank = torch.zeros(10, 1, 28, 28)
    for wild, distorted in ((0.0, False), (1.0, True)):
        config = training.TrainConfig(wild=wild, outliers=0.3, batch_size=64).resolved()
        x, _ = training._batch(config, digits, torch.arange(64), torch.Generator().manual_seed(0), blank)
        assert bool(x[64:72].amax() > 0) == distorted


def test_a_run_can_start_from_a_checkpoints_weights(tmp_path, tiny_mnist):
    small = {"conv1": 8, "conv2": 8, "conv3": 8, "hidden": 16}
    base = dict(kind="cnn", epochs=1, batch_size=32, device="cpu", model=small)
    training.train(training.TrainConfig(**base, lr=0.02), tiny_mnist, tmp_path / "a.pt")
    start = checkpoints.load(tmp_path / "a.pt").model
    # A learning rate too small to move the weights: the run ends where it started.
    training.train(training.TrainConfig(**{**base, "model": {}}, lr=1e-12, init=str(tmp_path / "a.pt"), seed=7),
                   tiny_mnist, tmp_path / "b.pt")
    tuned = checkpoints.load(tmp_path / "b.pt")
    assert tuned.model.config == start.config and tuned.train["init"] == str(tmp_path / "a.pt")
    for (name, a), b in zip(start.named_parameters(), tuned.model.parameters()):
        assert torch.allclose(a, b, atol=1e-6), name
    fresh = training.train(training.TrainConfig(**base, lr=1e-12, seed=7), tiny_mnist, tmp_path / "c.pt")
    assert not torch.allclose(checkpoints.load(fresh.checkpoint).model.fc2.weight, start.fc2.weight)


def test_a_start_checkpoint_of_other_sizes_or_kind_is_refused(tmp_path, tiny_mnist, capsys):
    from digittui.errors import CheckpointError

    small = {"conv1": 8, "conv2": 8, "conv3": 8, "hidden": 16}
    training.train(training.TrainConfig(kind="cnn", epochs=1, batch_size=32, device="cpu", model=small),
                   tiny_mnist, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="its model has hidden=16"):
        training.train(training.TrainConfig(kind="cnn", epochs=1, device="cpu", model={"hidden": 32},
                                             init=str(tmp_path / "a.pt")), tiny_mnist, tmp_path / "b.pt")
    assert main(["train", "vae", "--init", str(tmp_path / "a.pt"), "--data-dir", str(tiny_mnist),
                 "-o", str(tmp_path / "v.pt")]) == 1
    assert "holds a CNN, but a VAE was expected" in capsys.readouterr().err
