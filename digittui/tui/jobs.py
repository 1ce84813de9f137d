"""Work the app runs off the event loop, and the state it reports back.

Everything touching torch runs in thread workers; these functions import the engine lazily so that
importing the app (and drawing its first frame) never waits for torch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from digittui.events import EpochEnd, Finished, Outcome, Progress, Started, TrainControl


def user_message(error: BaseException | None) -> str:
    """A DigitError's message is for the user as it is; anything else is a bug, shown with its type."""
    from digittui.errors import DigitError

    if isinstance(error, DigitError):
        return str(error)
    return f"{type(error).__name__}: {error}"


@dataclass
class Models:
    """The loaded weights and where they came from; either model may be missing (with the reason)."""

    device: Any  # torch.device
    device_name: str
    cnn: Any = None  # checkpoints.Checkpoint
    vae: Any = None
    decider: Any = None  # the CNN generation decides with (digittui.weights.DECIDER)
    sources: dict[str, str] = field(default_factory=dict)  # role -> "shipped", "run 11-28 14:25:01", "given"...
    errors: dict[str, str] = field(default_factory=dict)  # role -> why it could not be loaded

    def weights(self) -> str:
        """The weights in use with their test metric: 'CNN 99.60% shipped · VAE 94.51 nats run 11-28 14:25:01'."""
        from digittui.weights import METRICS

        parts = []
        for kind in ("cnn", "vae"):
            ckpt = getattr(self, kind)
            if ckpt is None:
                parts.append(f"no {kind.upper()}")
            elif METRICS[kind].key in ckpt.metrics:
                parts.append(f"{kind.upper()} {METRICS[kind].format(ckpt.metrics)} {self.sources[kind]}")
            else:
                parts.append(f"{kind.upper()} {self.sources[kind]}")
        return " · ".join(parts)


def load_models(device: str, explicit: dict[str, str | None]) -> Models:
    """Resolve the device and load both models (thread worker). Unusable weights are recorded, not raised."""
    from digittui import checkpoints
    from digittui.device import describe, resolve
    from digittui.errors import DigitError
    from digittui.weights import DECIDER, checkpoint_kind

    choice = resolve(device)
    models = Models(choice.device, describe(choice.device))
    for role in ("cnn", "vae", DECIDER):
        given = explicit.get(checkpoint_kind(role))
        try:
            if role == DECIDER and checkpoints.find(DECIDER, given) == checkpoints.find("cnn", given):
                models.decider = models.cnn  # your CNN does both jobs: loaded (or refused) once
                continue
            ckpt, source = checkpoints.load_default(role, given, choice.device)
        except DigitError as exc:
            models.errors[role] = str(exc)
        else:
            setattr(models, role, ckpt)
            models.sources[role] = source
    return models


def load_test_set(data_dir: Path):
    """The MNIST test split on the CPU (thread worker); raises DataError with how to fix it.

    Never downloads: a download cannot be cancelled, and a stalled one would keep the app from
    quitting (Textual waits for thread workers). Training, which the user starts, does download;
    the app reads the test set again when a run ends."""
    from digittui.data import load_mnist

    return load_mnist(data_dir, train=False, device="cpu", download=False)


def prepare_training() -> None:
    """Build and drop a throwaway optimizer (thread worker, when the Train screen first opens). The
    first optimizer of a process costs ~1.3 s and ~150 MB here, as torch imports its compiler stack
    on first use: paid while the user picks options, it is not waited for after they press Start."""
    import torch

    torch.optim.AdamW([torch.zeros(1, requires_grad=True)])


@dataclass
class TrainRequest:
    kinds: tuple[str, ...]  # ("cnn",), ("vae",) or ("cnn", "vae"), trained one after the other
    epochs: int = 0  # 0 = each kind's default
    batch_size: int = 0
    lr: float = 0.0
    device: str = "auto"


class RunState(Enum):
    """Where a training run is. Only TrainRun's methods move it, and only along these arrows:
    STARTING -> TRAINING <-> PAUSED; any of those -> STOPPING; anything -> DONE (the worker ended)."""

    STARTING = "starting"  # reading the data, building the model
    TRAINING = "training"
    PAUSED = "paused"
    STOPPING = "stopping"  # asked to stop: the loop ends after its current step
    DONE = "done"


class TrainRun:
    """One training run as the UI sees it.

    The worker thread only appends engine events to `events` (a deque append is thread-safe and never
    blocks it); the app drains them on a timer and folds them into the history below, which the train
    screen draws. `control` steers the engine's loop from the UI thread.
    """

    def __init__(self, request: TrainRequest, runs: dict[str, Any]) -> None:
        self.request = request
        self.runs = runs  # kind -> digittui.weights.Run: its last epoch and its best are kept there
        self.events: deque = deque()
        self.control = TrainControl()
        self.kind = request.kinds[0]
        self.state = RunState.STARTING
        self.loss: dict[str, list[tuple[int, float]]] = {k: [] for k in request.kinds}
        self.epoch_metrics: dict[str, list[tuple[int, dict]]] = {k: [] for k in request.kinds}
        self.progress = None  # the latest Progress event of the kind being trained
        self.planned: dict[str, int] = {}  # kind -> epochs, once its Started arrived
        self.samples = None  # numpy [2, K, 28, 28]: VAE originals and reconstructions
        self.log: list[str] = []
        self.finished: dict[str, Any] = {}  # kind -> Finished
        self.best: dict[str, tuple[int, dict]] = {}  # kind -> (epoch, metrics) of its best epoch so far
        self.error: str | None = None

    @property
    def active(self) -> bool:
        return self.state is not RunState.DONE

    def headline(self) -> str:
        """A few words for the header: 'training CNN 45%', 'CNN paused 45%', 'loading VAE'."""
        p = self.progress
        if self.state is RunState.STOPPING:
            return f"stopping {self.kind.upper()}"
        if p is None:
            return f"loading {self.kind.upper()}"
        percent = f"{p.step / max(p.total_steps, 1):.0%}"
        if self.state is RunState.PAUSED:
            return f"{p.kind.upper()} paused {percent}"
        return f"training {p.kind.upper()} {percent} · epoch {p.epoch}/{p.epochs}"

    def pause(self) -> bool:
        """Hold the loop before its next step; False (and nothing done) unless it is training."""
        if self.state is not RunState.TRAINING:
            return False
        self.control.pause()
        self.state = RunState.PAUSED
        return True

    def resume(self) -> bool:
        if self.state is not RunState.PAUSED:
            return False
        self.control.resume()
        self.state = RunState.TRAINING
        return True

    def stop(self) -> bool:
        """Stop after the current step (a paused loop wakes up to stop). Not Worker.cancel: that marks
        a thread worker cancelled at once while its thread runs on, so its end would not be seen."""
        if self.state not in (RunState.STARTING, RunState.TRAINING, RunState.PAUSED):
            return False
        self.control.cancel()
        self.state = RunState.STOPPING
        return True

    def ended(self, error: str | None = None) -> None:
        """The worker returned (or raised `error`, already worded for the user)."""
        self.state = RunState.DONE
        self.error = error

    def apply(self, event) -> None:
        """Fold one engine event into the history (UI thread)."""
        match event:
            case Started():
                self.kind = event.kind
                self.planned[event.kind] = event.epochs
                self.progress = None  # the previous kind's finished bar is not this one's
                if self.state is RunState.STARTING:
                    self.state = RunState.TRAINING
                note = f" ({event.notice})" if event.notice else ""
                self.log.append(f"{event.kind.upper()}: {event.plan} on {event.device}{note}")
            case Progress():
                self.progress = event
                self.loss[event.kind].append((event.step, event.loss))
            case EpochEnd():
                self.epoch_metrics[event.kind].append((event.epoch, dict(event.metrics)))
                if event.best:
                    self.best[event.kind] = (event.epoch, dict(event.metrics))
                if event.samples is not None:
                    self.samples = event.samples.numpy()
                shown = ", ".join(f"{k.removeprefix('test_')} {_fmt(k, v)}" for k, v in event.metrics.items()
                                  if k.startswith("test_"))
                self.log.append(f"{event.kind.upper()} epoch {event.epoch}/{event.epochs}: {shown}"
                                + (" · the run's best so far" if event.best else ""))
            case Finished():
                self.finished[event.kind] = event
                following = self.request.kinds[self.request.kinds.index(event.kind) + 1:]
                if event.status is Outcome.COMPLETED and following:
                    self.kind, self.progress = following[0], None  # loading the next model
                detail = f": {event.message}" if event.message else ""
                self.log.append(f"{event.kind.upper()} {event.status} after epoch {event.epoch}{detail}")


def _fmt(key: str, value: float) -> str:
    return f"{value:.2%}" if key.endswith("accuracy") else f"{value:.2f}"


def run_training(run: TrainRun, data_dir: Path) -> None:
    """Train each requested kind in turn (thread worker body)."""
    from digittui.train import TrainConfig, train

    control = run.control
    for kind in run.request.kinds:
        if control.cancelled:
            break
        req = run.request
        config = TrainConfig(kind=kind, epochs=req.epochs, batch_size=req.batch_size, lr=req.lr, device=req.device)
        kept = run.runs[kind]
        finished = train(config, data_dir, kept.last, best=kept.best, on_event=run.events.append, control=control)
        if finished.status is not Outcome.COMPLETED:
            break
