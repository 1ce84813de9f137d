"""The CUDA path: training (bf16 autocast, fused AdamW, device-side augmentation, weight averaging),
checkpoints that move between devices, guided generation and classification on the GPU.

Skipped where no CUDA GPU is present (CI has none); run on a GPU box with `pytest tests/test_gpu.py`.
"""

from __future__ import annotations

import pytest
import torch

from digittui import checkpoints
from digittui import train as training
from digittui.data import augment
from digittui.generate import GenerateConfig, generate_many
from digittui.graphstep import WARMUP, GraphedStep
from digittui.spec import parse
from digittui.events import EpochEnd
from digittui.train import TrainConfig, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_training_on_cuda_learns_and_saves_a_portable_checkpoint(tiny_mnist, tmp_path):
    events = []
    config = TrainConfig(kind="cnn", epochs=6, batch_size=32, lr=0.02, device="cuda", augment=True, ema=0.5,
                         model={"conv1": 8, "conv2": 8, "conv3": 8, "hidden": 16})
    result = train(config, tiny_mnist, tmp_path / "cnn.pt", on_event=events.append)
    assert result.status == "completed"
    assert result.metrics["test_accuracy"] > 0.8  # chance is 0.1
    assert all(e.train_s > 0 for e in events if isinstance(e, EpochEnd))
    ckpt = checkpoints.load(tmp_path / "cnn.pt", "cnn")  # loads onto the CPU by default
    assert next(ckpt.model.parameters()).device.type == "cpu"
    assert ckpt.train["device"] == "cuda"


def test_vae_training_on_cuda_lowers_the_loss(tiny_mnist, tmp_path):
    events = []
    config = TrainConfig(kind="vae", epochs=6, batch_size=32, lr=2e-3, device="cuda", cudnn_benchmark=False,
                         model={"latent_dim": 4, "channels": 8, "hidden": 32})
    result = train(config, tiny_mnist, tmp_path / "vae.pt", on_event=events.append)
    assert result.status == "completed"
    assert torch.backends.cudnn.benchmark is False  # the run used cuDNN's heuristics, as asked
    losses = [e.metrics["test_loss"] for e in events if isinstance(e, EpochEnd)]
    assert losses[-1] < 0.9 * losses[0]


def test_cuda_graph_is_captured_and_trains_like_eager(tiny_mnist, tmp_path, monkeypatch):
    steps = []

    class Spy(GraphedStep):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            steps.append(self)

    monkeypatch.setattr(training, "GraphedStep", Spy)
    config = dict(kind="cnn", epochs=3, batch_size=32, lr=0.02, device="cuda", ema=0.5, augment=True,
                  model={"conv1": 8, "conv2": 8, "conv3": 8, "hidden": 16, "dropout": 0.0})
    graphed = train(TrainConfig(**config), tiny_mnist, tmp_path / "graphed.pt")
    eager = train(TrainConfig(**config, cuda_graph=False), tiny_mnist, tmp_path / "eager.pt")
    assert len(steps) == 1, "the eager run must not build a GraphedStep"
    step = steps[0]
    assert step.graph is not None and not step.failed
    assert step.calls == 3 * 8 > WARMUP  # every step went through it: 256 images / 32 per step
    assert graphed.metrics["test_accuracy"] > 0.5
    # The same arithmetic in the same order, so the same run up to floating-point noise.
    a = checkpoints.load(tmp_path / "graphed.pt", "cnn").model.state_dict()
    b = checkpoints.load(tmp_path / "eager.pt", "cnn").model.state_dict()
    for name in a:
        assert torch.allclose(a[name].float(), b[name].float(), atol=1e-2, rtol=1e-2), name


def test_augment_with_a_cuda_generator_stays_on_the_device_and_follows_the_seed():
    x = torch.rand(16, 1, 28, 28, device="cuda")
    a = augment(x, torch.Generator("cuda").manual_seed(3))
    b = augment(x, torch.Generator("cuda").manual_seed(3))
    c = augment(x, torch.Generator("cuda").manual_seed(4))
    assert a.device.type == "cuda" and a.shape == x.shape
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_generation_on_cuda_agrees_with_the_cpu_classifier():
    cnn = checkpoints.load_default("cnn")[0].model.cuda()
    vae = checkpoints.load_default("vae")[0].model.cuda()
    config = GenerateConfig(count=16, seed=5)
    (on_gpu,) = generate_many([parse("7")], cnn, vae, config)
    (again,) = generate_many([parse("7")], cnn, vae, config)
    assert on_gpu.images.device.type == "cpu" and on_gpu.images.shape == (16, 28, 28)
    # Same seed, nearly the same images: on CUDA, grid_sample's backward (the robustness copy) adds
    # with atomics, so the last bits vary between runs, and now and then a sample stops a step
    # sooner or later. (Seen on an H200: differences from 1e-23 up to beyond 1e-4 in one pixel.)
    per_sample = (on_gpu.images - again.images).abs().flatten(1).amax(1)  # [16]
    assert float(per_sample.median()) < 1e-2
    with torch.no_grad():
        cpu_reads = cnn.cpu().eval()(on_gpu.images[:, None]).argmax(1)
    assert (cpu_reads == 7).float().mean() >= 0.9
