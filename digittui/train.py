"""The training loops for the CNN and the VAE, with progress events, pause/cancel and resume.

One loop serves both kinds: only the loss (`_cnn_step` / `_vae_step`) and the test metrics differ.
Each epoch draws its shuffling, augmentation, dropout and VAE noise from seeds derived from
(seed, epoch), so a run resumed from the checkpoint of epoch k repeats exactly what an uninterrupted
run does from epoch k on.

The steps, in `training_events`: `_restore` (a fresh model, or one resumed from a checkpoint),
`_build_optimization` (optimizer, schedule, forward/backward, weight average), then per epoch
`_train_epoch` (a generator of Progress events) and `_end_epoch` (test metrics and the checkpoint).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Generator, Iterator

import torch
import torch.nn.functional as F

from digittui import calibration, checkpoints, distort, limits, outliers, weights
from digittui.data import Digits, add_noise, augment, batches_per_epoch, epoch_batches, load_mnist, split_holdout
from digittui.device import describe, resolve
from digittui.errors import CheckpointError, DataError, DeviceError, HomeError, LimitError, WriteError
from digittui.evaluate import cnn_metrics, cnn_predictions, vae_metrics
from digittui.events import EpochEnd, Event, Finished, Outcome, Progress, Started, TrainControl
from digittui.graphstep import GraphedStep
from digittui.models import CNN, VAE, vae_loss
from digittui.models.sizes import checked_config

KINDS = ("cnn", "vae")


@dataclass
class TrainConfig:
    kind: str = "cnn"  # "cnn" or "vae"
    epochs: int = 0  # passes over the 60,000 training images; 0 = the kind's default
    batch_size: int = 0  # images per optimizer step; 0 = the kind's default
    lr: float = 0.0  # peak learning rate of the one-cycle schedule; 0 = the kind's default
    weight_decay: float = 0.0  # AdamW decoupled weight decay
    augment: bool = False  # random small rotations / scalings / shifts of each batch (the VAE reconstructs them)
    noise: float = 0.0  # Gaussian pixel noise, its deviation drawn per image up to this. CNN: on the images;
    # a CNN trained so has input gradients that point at strokes: guided generation's guide (generate.py).
    # VAE: on the encoder's input only, the decoder reconstructing the clean image (a denoising VAE:
    # a smoother encoder, Shu et al. 2018)
    seed: int = 1  # same seed, same run
    device: str = "auto"  # auto | cuda | mps | cpu
    log_every: int = 20  # steps between loss readings (each reading waits for the GPU)
    amp: bool = True  # bf16 autocast on CUDA
    ema: float = 0.0  # decay of a moving average of the weights, updated every step (e.g. 0.999); the
    # average is what gets evaluated and saved. 0 = off
    compile: bool = False  # torch.compile the model (its compiling delays the first step)
    cuda_graph: bool = True  # on CUDA, replay each step's forward and backward as one CUDA graph
    # (digittui/graphstep.py says why). Ignored with compile
    cudnn_benchmark: bool = True  # on CUDA, let cuDNN time its kernels for each new input shape:
    # faster steps, slower first ones; benchmarks/startup_cost.py weighs it for short runs
    model: dict = field(default_factory=dict)  # overrides of CNNConfig / VAEConfig fields
    wild: float = 0.0  # CNN: share of each batch also distorted like handwriting unlike MNIST's
    # (digittui.distort.wild: slant, wobble, stroke width, outlines, gaps, ruled paper, low resolution, blur,
    # noise). 0 = off
    outliers: float = 0.0  # CNN: weight of outlier exposure (digittui.outliers): each batch also holds
    # letters and scribbles whose digit probabilities are pushed towards uniform. 0 = off
    holdout: int = 0  # CNN: the last N training images are never trained on; the temperature and the
    # not-a-digit threshold are fitted on them after every epoch (digittui.calibration). 0 = off
    init: str = ""  # a checkpoint of this kind whose weights (and sizes) the run starts from instead of
    # random ones: fine-tuning. "" = a fresh model

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


def build_model(config: TrainConfig) -> torch.nn.Module:
    """A fresh model of the kind and sizes asked for (seeded by the caller), or the weights of
    `config.init`; ConfigError for sizes out of range."""
    if config.init:
        return _initial_weights(config)
    return (CNN if config.kind == "cnn" else VAE)(checked_config(config.kind, dict(config.model)))


def _initial_weights(config: TrainConfig) -> torch.nn.Module:
    ckpt = checkpoints.load(Path(config.init), config.kind)
    asked = {k: v for k, v in config.model.items() if getattr(ckpt.model.config, k) != v}
    if asked:
        raise CheckpointError(f"cannot start from {config.init}: its model has "
                              + ", ".join(f"{k}={getattr(ckpt.model.config, k)!r}" for k in asked)
                              + "; drop --model to keep its sizes")
    return ckpt.model


def _cnn_step(model: CNN, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the batch. Only the 10 digit targets occur; spare outputs are
    pushed down like any wrong class."""
    return F.cross_entropy(model(x).float(), y)


def _cnn_outlier_step(weight: float) -> Callable[[CNN, torch.Tensor, torch.Tensor], torch.Tensor]:
    """The CNN's loss for batches that end with outliers (label -1): cross-entropy on the digits
    plus `weight` times outliers.uniform_loss on the outliers, which sees the 10 digit outputs
    only, so that no example ever targets the spare units. Fixed shapes, no host sync (CUDA graphs)."""
    def step(model: CNN, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits = model(x).float()
        uniform = outliers.uniform_loss(logits[:, :10], (y < 0).float())
        return F.cross_entropy(logits, y, ignore_index=-1) + weight * uniform
    return step


def _vae_step(model: VAE, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(reconstruction + KL) per image, in nats: x is what the encoder sees, target what the
    decoder reconstructs (the same images unless --noise makes this a denoising VAE)."""
    logits, z, mu, logvar = model(x)
    recon, kl = vae_loss(model, logits, target, z, mu, logvar)
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


class _Stop(Exception):
    """The run ends early: cancelled, or diverged (with what to tell the user)."""

    def __init__(self, status: Outcome, message: str = "") -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class _Saved:
    """The last completed epoch: what a run that stops now reports."""

    epoch: int
    metrics: dict = field(default_factory=dict)
    checkpoint: Path | None = None
    calibration: dict | None = None  # fitted on the held-out images, when there are some
    best_metrics: dict | None = None  # of the run's best epoch so far, when it keeps one


@dataclass
class _Pace:
    """The global step, and the run's first step and time that the ETA and train_s count from."""

    step: int
    total_steps: int
    clock: Callable[[], float] = time.perf_counter  # TrainControl.clock: paused time left out

    def __post_init__(self) -> None:
        self.start_step, self.start_time = self.step, self.clock()

    def eta_s(self, now: float) -> float:
        per_step = (now - self.start_time) / max(self.step - self.start_step, 1)
        return per_step * (self.total_steps - self.step)


@dataclass
class _Optimization:
    """The model and what changes it: the optimizer, the schedule, the forward/backward (eager,
    compiled or a CUDA graph) and the weight average."""

    model: torch.nn.Module
    averaged: torch.nn.Module | None
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    forward_backward: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # fills .grad, returns the loss
    update_average: Callable[[], None] | None

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = self.forward_backward(x, y)
        self.optimizer.step()
        self.scheduler.step()
        if self.update_average is not None:
            self.update_average()
        return loss.detach()

    @property
    def final(self) -> torch.nn.Module:
        """What is evaluated, saved and used: the average when there is one."""
        return self.averaged if self.averaged is not None else self.model

    def resume_state(self) -> dict:
        state = {"optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}
        if self.averaged is not None:
            state["live_model"] = self.model.state_dict()
        return state


def train(config: TrainConfig, data_dir: Path, output: Path, *, resume: bool = False,
          on_event: Callable[[Event], None] = lambda e: None,
          control: TrainControl | None = None, best: Path | None = None) -> Finished:
    """Train one model and save a checkpoint to `output` after every epoch; with `best`, also save
    there (weights only) each epoch whose test metric beats the run's earlier ones.

    Returns the Finished event (also sent to `on_event`). Raises DataError, CheckpointError or
    DeviceError for problems the user must fix.
    """
    for event in training_events(config, data_dir, output, resume=resume, control=control, best=best):
        on_event(event)
    return event


def training_events(config: TrainConfig, data_dir: Path, output: Path, *, resume: bool = False,
                    control: TrainControl | None = None, best: Path | None = None) -> Iterator[Event]:
    """The run as a stream of events: Started, Progress and EpochEnd, and a Finished last."""
    config = config.resolved()
    if config.kind not in KINDS:
        raise ValueError(f"unknown model kind {config.kind!r}")
    control = control or TrainControl()
    # A place the epochs cannot go, sizes out of range or a batch past the memory are refused before
    # the first epoch is computed.
    checkpoints.check_output(output, config.kind, config.model, ema=bool(config.ema))
    limits.check_memory("batch size", config.batch_size, limits.TRAIN_IMAGE, "images a step",
                        "A smaller batch trains as well with a smaller learning rate")
    t0 = time.perf_counter()
    choice = resolve(config.device)
    device = choice.device
    start_epoch, model, averaged, resume_state = _restore(config, output, resume)
    saved = _Saved(start_epoch, best_metrics=_best_so_far(config, best) if resume else None)
    try:
        if control.wait_if_paused_then_should_stop():
            raise _Stop(Outcome.CANCELLED)
        train_set, val_set = split_holdout(load_mnist(data_dir, train=True, device=device), config.holdout)
        test_set = load_mnist(data_dir, train=False, device=device)
        bank = outliers.letters(device) if config.outliers else None
        if control.wait_if_paused_then_should_stop():
            raise _Stop(Outcome.CANCELLED)
        if config.batch_size > len(train_set):
            raise LimitError(f"a batch of {config.batch_size:,} images is more than the training set holds "
                             f"({len(train_set):,}): choose a --batch-size of at most {len(train_set):,}")
        steps_per_epoch = batches_per_epoch(len(train_set), config.batch_size)
        opt = _build_optimization(config, device, model, averaged, resume_state,
                                  steps_per_epoch * config.epochs, output)
        yield Started(config.kind, describe(device), choice.notice, config.epochs, start_epoch, steps_per_epoch)
        pace = _Pace(start_epoch * steps_per_epoch, steps_per_epoch * config.epochs, control.clock)
        for epoch in range(start_epoch, config.epochs):
            epoch_start = control.clock()
            epoch_loss = yield from _train_epoch(config, opt, train_set, epoch, pace, control, bank)
            epoch_rate = steps_per_epoch * config.batch_size / (control.clock() - epoch_start)
            _end_epoch(config, opt, test_set, output, epoch, epoch_loss.item() / steps_per_epoch, saved, val_set)
            is_best = best is not None and _keep_if_best(config, opt, best, epoch, saved)
            yield EpochEnd(config.kind, epoch + 1, config.epochs, saved.metrics, saved.checkpoint,
                           time.perf_counter() - t0, epoch_rate,
                           _reconstructions(opt.final, test_set) if config.kind == "vae" else None,
                           control.clock() - pace.start_time, is_best)
    except _Stop as stop:
        yield Finished(config.kind, stop.status, saved.epoch, saved.metrics, saved.checkpoint,
                       time.perf_counter() - t0, stop.message)
        return
    checkpoint = saved.checkpoint or (Path(output) if Path(output).is_file() else None)
    yield Finished(config.kind, Outcome.COMPLETED, config.epochs, saved.metrics, checkpoint, time.perf_counter() - t0)


def _best_so_far(config: TrainConfig, best: Path | None) -> dict | None:
    """The metrics of a resumed run's best epoch, which later epochs must beat to replace it."""
    if best is None or not Path(best).is_file():
        return None
    try:
        return checkpoints.load(best, config.kind).metrics
    except CheckpointError:  # unreadable: the next epoch takes its place
        return None


def _keep_if_best(config: TrainConfig, opt: _Optimization, best: Path, epoch: int, saved: _Saved) -> bool:
    """Save the epoch just ended to `best` (weights only) when its test metric beats the run's best."""
    if not weights.METRICS[config.kind].better(saved.metrics, saved.best_metrics):
        return False
    checkpoints.save(best, config.kind, opt.final, epoch=epoch + 1, metrics=saved.metrics, train=asdict(config),
                     calibration=saved.calibration)
    saved.best_metrics = saved.metrics
    return True


def _restore(config: TrainConfig, output: Path, resume: bool):
    """(start epoch, model, weight average or None, optimizer/scheduler state or None): from the
    checkpoint at `output` when resuming, else a fresh seeded model."""
    if not (resume and Path(output).is_file()):
        torch.manual_seed(config.seed)
        return 0, build_model(config), None, None
    ckpt = checkpoints.load(output, config.kind)
    saved = ckpt.train
    for key in ("batch_size", "epochs", "lr", "seed", "model", "augment", "noise", "weight_decay", "ema", "wild",
                "outliers", "holdout", "init"):
        if key in saved and saved[key] != getattr(config, key):
            raise CheckpointError(
                f"cannot resume from {output}: it was trained with {key}={saved[key]!r}, "
                f"this run asks for {getattr(config, key)!r}. Use the same options, or drop --resume.")
    live = ckpt.resume is not None and "live_model" in ckpt.resume  # saved with EMA: ckpt.model is the average
    model = build_model(config) if live else ckpt.model
    resume_state = checkpoints.check_resume(ckpt, model)  # stripped, or not fitting the model: refused
    if not live:
        return ckpt.epoch, model, None, resume_state
    model.load_state_dict(resume_state["live_model"])
    return ckpt.epoch, model, ckpt.model, resume_state


def _build_optimization(config: TrainConfig, device: torch.device, model: torch.nn.Module,
                        averaged: torch.nn.Module | None, resume_state: dict | None,
                        total_steps: int, output: Path) -> _Optimization:
    model.to(device).train()
    if config.ema and averaged is None:
        averaged = copy.deepcopy(model)
    if averaged is not None:
        averaged.to(device).eval()
    # fused: one kernel for the whole update on CUDA instead of a handful per parameter group
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                  fused=device.type == "cuda")
    # One-cycle: warm up over the first quarter, then anneal. Very short runs (tests) get at least
    # 3 scheduled steps and 2 of warm-up, because a zero-length phase divides by zero inside torch.
    scheduled = max(total_steps, 3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=scheduled, pct_start=max(0.25, 2 / scheduled))
    if resume_state is not None:
        _load_resume_state(optimizer, scheduler, resume_state, output)
    update_average = _average_updater(averaged, model, config.ema) if averaged is not None else None
    return _Optimization(model, averaged, optimizer, scheduler,
                         _forward_backward(config, device, model, optimizer), update_average)


def _load_resume_state(optimizer: torch.optim.Optimizer, scheduler, resume_state: dict, output: Path) -> None:
    """The optimizer's and schedule's state from the checkpoint (checkpoints.check_resume has checked
    its shapes); CheckpointError for what only loading it shows, such as a schedule of another length."""
    scheduled = scheduler.total_steps
    try:
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
    except (ValueError, KeyError, TypeError, IndexError, RuntimeError) as exc:
        raise CheckpointError(f"cannot resume from {output}: its optimizer state does not fit this run "
                              f"({type(exc).__name__}: {str(exc)[:120]}). Drop --resume to train afresh.") from None
    if scheduler.total_steps != scheduled:
        raise CheckpointError(f"cannot resume from {output}: its schedule has {scheduler.total_steps!r:.20} steps, "
                              f"this run {scheduled:,}. Use the same options, or drop --resume.")


def _forward_backward(config: TrainConfig, device: torch.device, model: torch.nn.Module,
                      optimizer: torch.optim.Optimizer) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The loss and gradients of one batch: replayed as a CUDA graph on CUDA (unless compiling),
    else eager, or through torch.compile."""
    loss_fn = _vae_step if config.kind == "vae" else \
        _cnn_outlier_step(config.outliers) if config.outliers else _cnn_step
    use_amp = config.amp and device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = config.cudnn_benchmark
    if config.cuda_graph and device.type == "cuda" and not config.compile:
        return GraphedStep(loss_fn, model, use_amp)
    # The compiled module shares its parameters with `model`, which stays the one saved.
    step_model = torch.compile(model) if config.compile else model

    def eager(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = loss_fn(step_model, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return loss

    return eager


def _batch(config: TrainConfig, data: Digits, index: torch.Tensor, generator: torch.Generator,
           bank: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch as trained on. VAE: (the encoder's input, noised or not; the clean images to reconstruct).
    CNN: (images, labels), augmented, noised; its first `wild` share distorted (the
    order is already random); then, with outlier exposure, an eighth of its size in letters from
    `bank` (augmented too) and an eighth in scribbles, labelled -1, the same share of each distorted:
    were only digits distorted, a distortion would mean "a digit" and crisp strokes "not a digit"."""
    x, y = data.float_images(index), data.labels[index]
    if config.augment:
        x = augment(x, generator)
    if config.kind == "vae":
        return (add_noise(x, config.noise, generator) if config.noise else x), x
    if config.noise:
        x = add_noise(x, config.noise, generator)
    x = _distort_share(x, config.wild, generator)
    if bank is not None:
        n = max(1, x.shape[0] // 8)
        pick = torch.randint(len(bank), (n,), generator=generator, device=generator.device).to(bank.device)
        letters = _distort_share(augment(bank[pick], generator), config.wild, generator)
        scribbles = _distort_share(outliers.scribbles(n, generator, x.device), config.wild, generator)
        x = torch.cat([x, letters, scribbles])
        y = torch.cat([y, torch.full((2 * n,), -1, dtype=y.dtype, device=y.device)])
    return x, y


def _distort_share(x: torch.Tensor, share: float, generator: torch.Generator) -> torch.Tensor:
    """The first `share` of the images (in random order already) distorted by distort.wild."""
    k = round(share * x.shape[0])
    return torch.cat([distort.wild(x[:k], generator), x[k:]]) if k else x


def _train_epoch(config: TrainConfig, opt: _Optimization, data: Digits, epoch: int, pace: _Pace,
                 control: TrainControl, bank: torch.Tensor | None = None) -> Generator[Progress, None, torch.Tensor]:
    """One pass over the training set, yielding a Progress every log_every steps and at the end;
    returns the sum of the batches' losses (a tensor on the device). Raises _Stop."""
    device = data.labels.device
    generator = torch.Generator().manual_seed(_epoch_seed(config.seed, epoch))  # the batch order
    # On a GPU, augmentation parameters are drawn there: drawing them on the CPU would copy them
    # over every step, and each copy waits for the GPU to catch up. On the CPU they come from the
    # batch-order generator, as they always have, so CPU runs (the shipped weights') repeat exactly.
    augment_generator = generator if device.type == "cpu" else \
        torch.Generator(device).manual_seed(_epoch_seed(config.seed, epoch))
    torch.manual_seed(_epoch_seed(config.seed, epoch))  # dropout and VAE noise
    steps_per_epoch = batches_per_epoch(len(data), config.batch_size)
    running = torch.zeros((), device=device)
    epoch_loss = torch.zeros((), device=device)
    window_start, window_steps = control.clock(), 0
    for index in epoch_batches(len(data), config.batch_size, generator, device):
        if control.wait_if_paused_then_should_stop():
            raise _Stop(Outcome.CANCELLED)
        x, y = _batch(config, data, index, augment_generator, bank)
        try:
            loss = opt.step(x, y)
        except torch.OutOfMemoryError:
            raise DeviceError(
                f"out of memory on {describe(device)} at batch size {config.batch_size}: "
                f"try a smaller --batch-size (e.g. {max(config.batch_size // 2, 1)}); "
                f"the last completed epoch ({epoch}) is kept") from None
        running += loss
        epoch_loss += loss
        pace.step += 1
        window_steps += 1
        if window_steps == config.log_every or pace.step % steps_per_epoch == 0:
            mean = running.item() / window_steps  # the only host sync in the step loop
            if not math.isfinite(mean):
                kept = f"the checkpoint of epoch {epoch} is kept" if epoch else "nothing was saved"
                raise _Stop(Outcome.DIVERGED, f"the loss became {mean} at step {pace.step}: training "
                                              f"stopped; {kept}. Try a smaller --lr.")
            now = control.clock()
            rate = window_steps * config.batch_size / max(now - window_start, 1e-9)
            yield Progress(config.kind, epoch + 1, config.epochs, pace.step, pace.total_steps, mean, rate,
                           pace.eta_s(now), opt.scheduler.get_last_lr()[0])
            running.zero_()
            window_start, window_steps = now, 0
    return epoch_loss


def _end_epoch(config: TrainConfig, opt: _Optimization, test_set: Digits, output: Path, epoch: int,
               train_loss: float, saved: _Saved, val_set: Digits | None = None) -> None:
    """Evaluate the final weights on the test set, calibrate them on `val_set` (if any), and save
    the checkpoint; records the metrics and the path in `saved`. Raises _Stop, saving nothing, when
    the weights are no longer finite."""
    final = opt.final
    metrics = cnn_metrics(final, test_set) if config.kind == "cnn" else vae_metrics(final, test_set)
    metrics["train_loss"] = train_loss
    if not all(torch.isfinite(p).all() for p in final.parameters()):
        raise _Stop(Outcome.DIVERGED, "the weights became NaN or infinite: nothing saved for this epoch. "
                                      "Try a smaller --lr.")
    fitted = None
    if val_set is not None and config.kind == "cnn":
        fitted = calibration.fit(cnn_predictions(final, val_set, logits=True), val_set.labels.cpu(),
                                 f"validation: the last {len(val_set):,} training images").as_dict()
    contents = dict(epoch=epoch + 1, metrics=metrics, train=asdict(config), resume=opt.resume_state(),
                    calibration=fitted)
    try:
        saved.checkpoint = checkpoints.save(output, config.kind, final, **contents)
    except WriteError as exc:
        rescued = _rescue(Path(output), config.kind, final, contents)
        kept = f"{output} still holds epoch {saved.epoch}" if saved.checkpoint else f"{output} is unchanged"
        where = (f"this epoch's weights are in {rescued} (copy it there, or continue with --resume -o {rescued})"
                 if rescued else "no other folder could take this epoch's weights either")
        raise WriteError(f"could not save epoch {epoch + 1}: {exc}. Training stopped; {where}; {kept}.") from None
    saved.epoch, saved.metrics, saved.calibration = epoch + 1, metrics, fitted


def _rescue(output: Path, kind: str, model: torch.nn.Module, contents: dict) -> Path | None:
    """The epoch's checkpoint written elsewhere when `output` cannot take it (disk full, read-only,
    permission): the user's data folder, else the temporary folder. None if neither can."""
    import tempfile

    from digittui.paths import user_dir

    name = f"{output.stem}-epoch{contents['epoch']}-rescued.pt"
    folders = [Path(tempfile.gettempdir())]
    try:
        folders.insert(0, user_dir() / "rescued")
    except HomeError:
        pass
    for folder in folders:
        try:
            return checkpoints.save(folder / name, kind, model, **contents)
        except WriteError:
            continue
    return None
