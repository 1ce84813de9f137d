"""Fixtures for the TUI tests: small deterministic weights, and the app pointed at them."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def seeded_weights(tmp_path_factory) -> dict[str, Path]:
    """A CNN and a VAE with seeded random weights: every run (and every snapshot) sees the same
    probabilities and decoded images, whatever was trained or shipped."""
    import torch

    from digittui import checkpoints
    from digittui.models import CNN, VAE

    folder = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    paths = {"cnn": folder / "cnn.pt", "vae": folder / "vae.pt"}
    checkpoints.save(paths["cnn"], "cnn", CNN().eval())
    checkpoints.save(paths["vae"], "vae", VAE().eval())
    return paths


@pytest.fixture
def fixed_device_name(monkeypatch):
    """The header names the CPU with its thread count: pin it so snapshots match on any machine."""
    monkeypatch.setattr("digittui.device.describe", lambda device: "CPU")


@pytest.fixture
def make_app(seeded_weights, tiny_mnist):
    """DigitApp on the tiny synthetic MNIST with the seeded weights (overridable)."""
    from digittui.tui.app import DigitApp

    def make(**kwargs) -> DigitApp:
        options = {"cnn": str(seeded_weights["cnn"]), "vae": str(seeded_weights["vae"]),
                   "data_dir": str(tiny_mnist), "device": "cpu"}
        options.update(kwargs)
        return DigitApp(**options)

    return make
