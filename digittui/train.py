"""The training loops for the CNN and the VAE, with progress events, pause/cancel and resume.

One loop serves both kinds: only the loss (`_cnn_step` / `_vae_step`) and the test metrics differ.
Each epoch draws its shuffling, augmentation, dropout and VAE noise from seeds derived from
(seed, epoch), so a run resumed from the checkpoint of epoch k repeats exactly what an uninterrupted
run does from epoch k on.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Union

import torch
import torch.nn.functional as F

from digittui import checkpoints
from digittui.data import Digits, augment, batches_per_epoch, epoch_batches, load_mnist
from digittui.device import describe, resolve
from digittui.errors import CheckpointError, DeviceError
from digittui.evaluate import cnn_metrics, vae_metrics
from digittui.graphstep import GraphedStep
from digittui.models import CNN, VAE, CNNConfig, VAEConfig, vae_loss

KINDS = ("cnn", "vae")


@dataclass
class TrainConfig:
    kind: str = "cnn"  # "cnn" or "vae"
    epochs: int = 0  # passes over the 60,000 training images; 0 = the kind's default
    batch_size: int = 0  # images per optimizer step; 0 = the kind's default
    lr: float = 0.0  # peak learning rate of the one-cycle schedule; 0 = the kind's default
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    augment: bool = False  # random small rotations / scalings / shifts of each batch (CNN)
    seed: int = 1  # same seed, same run
    device: str = "auto"  # auto | cuda | mps | cpu
    log_every: int = 20  # steps between loss readings (each reading waits for the GPU)
    amp: bool = True  # bf16 autocast on CUDA
    ema: float = 0.0  # decay of a moving average of the weights, updated every step (e.g. 0.999); the
    # average is what gets evaluated and saved. 0 = off
    compile: bool = False  # torch.compile the model: ~20 s of compiling, and on the GPU no faster
    # than eager here (launch-bound: benchmarks/RESULTS.md); cuda_graph is what pays
    cuda_graph: bool = True  # on CUDA, replay each step's forward and backward as one CUDA graph
    # (digittui/graphstep.py): 2.8-4.1 -> 0.43 ms per CNN step on an H200. Ignored with compile
    cudnn_benchmark: bool = True  # on CUDA, let cuDNN time its kernels for each new input shape:
    # faster steps, slower first ones; benchmarks/startup_cost.py weighs it for short runs
    model: dict = field(default_factory=dict)  # overrides of CNNConfig / VAEConfig fields

    def resolved(self) -> "TrainConfig":
        """A copy with the kind's defaults filled in."""
        epochs, batch, lr = DEFAULTS[self.kind]
        out = TrainConfig(**asdict(self))
        out.epochs = self.epochs or epochs
        out.batch_size = self.batch_size or batch
        out.lr = self.lr or lr
        return out


# kind -> (epochs, batch size, peak lr). The CNN's are the fast CPU recipe (>= 99.0% in well under a
# minute on 2 cores); the shipped weights use longer runs, see README "Shipped weights".
DEFAULTS = {"cnn": (2, 128, 4e-3), "vae": (10, 128, 2e-3)}


@dataclass
class Started:
    kind: str
    device: str  # human-readable, e.g. "NVIDIA H100" or "CPU (2 threads)"
    notice: str | None  # e.g. "cuda is not available; using the CPU instead"
    epochs: int
    start_epoch: int  # > 0 when resumed
    steps_per_epoch: int
    train_size: int
    test_size: int

    @property
    def plan(self) -> str:
        """e.g. "1 epoch of 469 steps", as both front ends announce a run."""
        def count(n: int, noun: str) -> str:
            return f"{n:,} {noun}{'' if n == 1 else 's'}"
        return f"{count(self.epochs, 'epoch')} of {count(self.steps_per_epoch, 'step')}"


@dataclass
class Progress:
    kind: str
    epoch: int  # 1-based, the epoch in progress
    epochs: int
    step: int  # global step, counting from the start of the run (resumed epochs included)
    total_steps: int
    loss: float  # mean training loss per image since the previous Progress (nats for the VAE)
    images_per_s: float
    eta_s: float  # seconds left for the whole run, test evaluations excluded
    lr: float


@dataclass
class EpochEnd:
    kind: str
    epoch: int
    epochs: int
    metrics: dict  # test metrics (test_accuracy / test_loss, test_recon, test_kl) and train_loss
    checkpoint: Path | None
    elapsed_s: float
    images_per_s: float  # training throughput over this epoch, test evaluation excluded
    samples: torch.Tensor | None = None  # VAE: [2, K, 28, 28] originals and reconstructions, CPU
    train_s: float = 0.0  # seconds since the first step of this run: steps, test passes and saves,
    # without the data loading and model setup that elapsed_s includes


@dataclass
class Finished:
    kind: str
    status: str  # "completed" | "cancelled" | "diverged"
    epoch: int  # last completed (and saved) epoch
    metrics: dict
    checkpoint: Path | None
    elapsed_s: float
    message: str = ""


Event = Union[Started, Progress, EpochEnd, Finished]


class TrainControl:
    """Pause / resume / cancel from another thread; the loop checks between steps."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()

    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # wake a paused loop so it can see the cancel

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def checkpoint(self) -> bool:
        """Block while paused; True when the loop should stop."""
        while not self._running.wait(0.1):
            pass
        return self._cancel.is_set()


def build_model(config: TrainConfig) -> torch.nn.Module:
    if config.kind == "cnn":
        return CNN(CNNConfig(**config.model))
    return VAE(VAEConfig(**config.model))


def _cnn_step(model: CNN, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the batch. Only the 10 digit targets occur; spare outputs are
    pushed down like any wrong class."""
    return F.cross_entropy(model(x).float(), y)


def _vae_step(model: VAE, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(reconstruction + KL) per image, in nats."""
    logits, mu, logvar = model(x)
    recon, kl = vae_loss(logits, x, mu, logvar)
    return (recon + kl) / x.shape[0]


def _average_updater(averaged: torch.nn.Module, model: torch.nn.Module,
                     decay: float) -> Callable[[], None]:
    """A function doing averaged <- decay * averaged + (1 - decay) * model, for weights and BatchNorm
    statistics, in one multi-tensor kernel per group: per-tensor updates cost a launch each, which
    on the GPU was more than the training step itself."""
    pairs = list(zip(averaged.state_dict().values(), model.state_dict().values()))
    floats = [(a, p) for a, p in pairs if a.is_floating_point()]
    counters = [(a, p) for a, p in pairs if not a.is_floating_point()]  # BatchNorm's batch counters
    float_a, float_p = [a for a, _ in floats], [p for _, p in floats]
    count_a, count_p = [a for a, _ in counters], [p for _, p in counters]

    @torch.no_grad()
    def update() -> None:
        torch._foreach_lerp_(float_a, float_p, 1.0 - decay)
        if count_a:  # the VAE has none, and the foreach ops reject empty lists
            torch._foreach_copy_(count_a, count_p)

    return update


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100_003 + epoch


@torch.no_grad()
def _reconstructions(model: VAE, test: Digits, k: int = 8) -> torch.Tensor:
    """The first k test digits and their decoded posterior means (encode/decode ignore train mode)."""
    x = test.float_images(slice(0, k))
    recon = model.decode(model.encode(x)[0])
    return torch.stack([x[:, 0], recon[:, 0]]).float().cpu()


def train(config: TrainConfig, data_dir: Path, output: Path, *, resume: bool = False,
          on_event: Callable[[Event], None] = lambda e: None,
          control: TrainControl | None = None) -> Finished:
    """Train one model and save a checkpoint to `output` after every epoch.

    Returns the Finished event (also sent to `on_event`). Raises DataError, CheckpointError or
    DeviceError for problems the user must fix.
    """
    config = config.resolved()
    if config.kind not in KINDS:
        raise ValueError(f"unknown model kind {config.kind!r}")
    control = control or TrainControl()
    t0 = time.perf_counter()
    choice = resolve(config.device)
    device = choice.device

    start_epoch, resume_state, averaged = 0, None, None
    if resume and Path(output).is_file():
        ckpt = checkpoints.load(output, config.kind)
        saved = ckpt.train
        for key in ("batch_size", "epochs", "lr", "seed", "model", "augment", "weight_decay", "ema"):
            if key in saved and saved[key] != getattr(config, key):
                raise CheckpointError(
                    f"cannot resume from {output}: it was trained with {key}={saved[key]!r}, "
                    f"this run asks for {getattr(config, key)!r}. Use the same options, or drop --resume."
                )
        if ckpt.resume is None:
            raise CheckpointError(f"cannot resume from {output}: it holds weights only (stripped). "
                                  "Drop --resume to train afresh.")
        start_epoch, resume_state, model = ckpt.epoch, ckpt.resume, ckpt.model
        if "live_model" in resume_state:  # saved with EMA: ckpt.model is the average
            averaged, model = model, build_model(config)
            model.load_state_dict(resume_state["live_model"])
    else:
        torch.manual_seed(config.seed)
        model = build_model(config)
    if control.checkpoint():
        return _finish(on_event, config, "cancelled", start_epoch, {}, None, t0)

    train_set = load_mnist(data_dir, train=True, device=device)
    test_set = load_mnist(data_dir, train=False, device=device)
    if control.checkpoint():
        return _finish(on_event, config, "cancelled", start_epoch, {}, None, t0)

    model.to(device).train()
    if config.ema and averaged is None:
        averaged = copy.deepcopy(model)
    if averaged is not None:
        averaged.to(device).eval()
    # fused: one kernel for the whole update on CUDA instead of a handful per parameter group
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  fused=device.type == "cuda")
    steps_per_epoch = batches_per_epoch(len(train_set), config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    # One-cycle: warm up over the first quarter, then anneal. Very short runs (tests) get at least
    # 3 scheduled steps and 2 of warm-up, because a zero-length phase divides by zero inside torch.
    scheduled = max(total_steps, 3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=scheduled, pct_start=max(0.25, 2 / scheduled))
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])

    step_fn = _cnn_step if config.kind == "cnn" else _vae_step
    # The compiled module shares its parameters with `model`, which stays the one saved.
    step_model = torch.compile(model) if config.compile else model
    use_amp = config.amp and device.type == "cuda"
    graphed = GraphedStep(step_fn, model, use_amp) \
        if config.cuda_graph and device.type == "cuda" and not config.compile else None
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = config.cudnn_benchmark
    update_average = _average_updater(averaged, model, config.ema) if averaged is not None else None
    on_event(Started(config.kind, describe(device), choice.notice, config.epochs, start_epoch,
                     steps_per_epoch, len(train_set), len(test_set)))

    metrics: dict = {}
    saved_path: Path | None = None
    step = start_epoch * steps_per_epoch
    run_start_step, run_start_time = step, time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        generator = torch.Generator().manual_seed(_epoch_seed(config.seed, epoch))  # the batch order
        # On a GPU, augmentation parameters are drawn there: drawing them on the CPU would copy them
        # over every step, and each copy waits for the GPU to catch up. On the CPU they come from the
        # batch-order generator, as they always have, so CPU runs (the shipped weights') repeat exactly.
        augment_generator = generator if device.type == "cpu" else \
            torch.Generator(device).manual_seed(_epoch_seed(config.seed, epoch))
        torch.manual_seed(_epoch_seed(config.seed, epoch))  # dropout and VAE noise
        running = torch.zeros((), device=device)
        epoch_loss = torch.zeros((), device=device)
        window_start, window_steps = time.perf_counter(), 0
        epoch_start = window_start
        for index in epoch_batches(len(train_set), config.batch_size, generator, device):
            if control.checkpoint():
                return _finish(on_event, config, "cancelled", epoch, metrics, saved_path, t0)
            x = train_set.float_images(index)
            if config.augment:
                x = augment(x, augment_generator)
            try:
                if graphed is not None:
                    loss = graphed(x, train_set.labels[index])
                else:
                    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                        loss = step_fn(step_model, x, train_set.labels[index])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
            except torch.OutOfMemoryError:
                raise DeviceError(
                    f"out of memory on {describe(device)} at batch size {config.batch_size}: "
                    f"try a smaller --batch-size (e.g. {max(config.batch_size // 2, 1)}); "
                    f"the last completed epoch ({epoch}) is kept") from None
            optimizer.step()
            scheduler.step()
            if update_average is not None:
                update_average()
            running += loss.detach()
            epoch_loss += loss.detach()
            step += 1
            window_steps += 1
            if window_steps == config.log_every or step % steps_per_epoch == 0:
                mean = running.item() / window_steps  # the only host sync in the step loop
                if not math.isfinite(mean):
                    kept = f"the checkpoint of epoch {epoch} is kept" if epoch else "nothing was saved"
                    return _finish(on_event, config, "diverged", epoch, metrics, saved_path, t0,
                                   f"the loss became {mean} at step {step}: training stopped; {kept}. "
                                   "Try a smaller --lr.")
                now = time.perf_counter()
                rate = window_steps * config.batch_size / max(now - window_start, 1e-9)
                done = step - run_start_step
                per_step = (now - run_start_time) / max(done, 1)
                on_event(Progress(config.kind, epoch + 1, config.epochs, step, total_steps, mean,
                                  rate, per_step * (total_steps - step), scheduler.get_last_lr()[0]))
                running.zero_()
                window_start, window_steps = now, 0
        epoch_rate = steps_per_epoch * config.batch_size / (time.perf_counter() - epoch_start)

        final = averaged if averaged is not None else model  # what is evaluated, saved and used
        metrics = cnn_metrics(final, test_set) if config.kind == "cnn" else vae_metrics(final, test_set)
        metrics["train_loss"] = epoch_loss.item() / steps_per_epoch
        if not all(torch.isfinite(p).all() for p in final.parameters()):
            return _finish(on_event, config, "diverged", epoch, metrics, saved_path, t0,
                           "the weights became NaN or infinite: nothing saved for this epoch. Try a smaller --lr.")
        resume_state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
        if averaged is not None:
            resume_state["live_model"] = model.state_dict()
        saved_path = checkpoints.save(output, config.kind, final, epoch=epoch + 1, metrics=metrics,
                                      train=asdict(config), resume=resume_state)
        samples = _reconstructions(final, test_set) if config.kind == "vae" else None
        now = time.perf_counter()
        on_event(EpochEnd(config.kind, epoch + 1, config.epochs, metrics, saved_path,
                          now - t0, epoch_rate, samples, now - run_start_time))
    return _finish(on_event, config, "completed", config.epochs, metrics, saved_path or
                   (Path(output) if Path(output).is_file() else None), t0)


def _finish(on_event, config: TrainConfig, status: str, epoch: int, metrics: dict,
            path: Path | None, t0: float, message: str = "") -> Finished:
    event = Finished(config.kind, status, epoch, metrics, path, time.perf_counter() - t0, message)
    on_event(event)
    return event
