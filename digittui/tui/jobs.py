"""Work the app runs off the event loop, and the state it reports back.

Everything touching torch runs in thread workers; these functions import the engine lazily so that
importing the app (and drawing its first frame) never waits for torch.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
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
    sources: dict[str, str] = field(default_factory=dict)  # kind -> "given" | "user-trained" | "shipped"
    errors: dict[str, str] = field(default_factory=dict)  # kind -> why it could not be loaded

    def summary(self) -> str:
        """For the header, short enough for 80 columns: 'CPU (2 threads) · CNN+VAE user-trained'."""
        by_source: dict[str, list[str]] = {}
        for kind in ("cnn", "vae"):
            by_source.setdefault(self.sources.get(kind, "missing"), []).append(kind.upper())
        return " · ".join([self.device_name] + [f"{'+'.join(k)} {s}" for s, k in by_source.items()])


def load_models(device: str, explicit: dict[str, str | None]) -> Models:
    """Resolve the device and load both models (thread worker). Unusable weights are recorded, not raised."""
    from digittui import checkpoints
    from digittui.device import describe, resolve
    from digittui.errors import DigitError

    choice = resolve(device)
    models = Models(choice.device, describe(choice.device))
    for kind in ("cnn", "vae"):
        try:
            ckpt, source = checkpoints.load_default(kind, explicit.get(kind), choice.device)
        except DigitError as exc:
            models.errors[kind] = str(exc)
        else:
            setattr(models, kind, ckpt)
            models.sources[kind] = source
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


class TrainRun:
    """One training run as the UI sees it.

    The worker thread only appends engine events to `events` (a deque append is thread-safe and never
    blocks it); the app drains them on a timer and folds them into the history below, which the train
    screen draws. `control` is the engine's TrainControl, created by the worker once torch is imported.
    """

    def __init__(self, request: TrainRequest, output: dict[str, Path]) -> None:
        self.request = request
        self.output = output  # kind -> checkpoint path written after every epoch
        self.events: deque = deque()
        self.control = None
        self.cancel_requested = False
        self.kind = request.kinds[0]
        self.status = "starting"  # starting | training | paused | stopping | done
        self.loss: dict[str, list[tuple[int, float]]] = {k: [] for k in request.kinds}
        self.epoch_metrics: dict[str, list[tuple[int, dict]]] = {k: [] for k in request.kinds}
        self.progress = None  # the latest Progress event
        self.samples = None  # numpy [2, K, 28, 28]: VAE originals and reconstructions
        self.log: list[str] = []
        self.finished: dict[str, Any] = {}  # kind -> Finished
        self.error: str | None = None

    @property
    def active(self) -> bool:
        return self.status != "done"

    def request_cancel(self) -> None:
        """Stop after the current step (any thread). Not Worker.cancel: that marks a thread worker
        cancelled at once while its thread runs on, so its end would no longer be observable."""
        self.cancel_requested = True
        if self.control is not None:
            self.control.cancel()

    def apply(self, event) -> None:
        """Fold one engine event into the history (UI thread)."""
        match event:
            case Started():
                self.kind = event.kind
                self.status = "training"
                note = f" ({event.notice})" if event.notice else ""
                self.log.append(f"{event.kind.upper()}: {event.plan} on {event.device}{note}")
            case Progress():
                self.progress = event
                self.loss[event.kind].append((event.step, event.loss))
            case EpochEnd():
                self.epoch_metrics[event.kind].append((event.epoch, dict(event.metrics)))
                if event.samples is not None:
                    self.samples = event.samples.numpy()
                shown = ", ".join(f"{k.removeprefix('test_')} {_fmt(k, v)}" for k, v in event.metrics.items()
                                  if k.startswith("test_"))
                self.log.append(f"{event.kind.upper()} epoch {event.epoch}/{event.epochs}: {shown}; "
                                f"saved {event.checkpoint}")
            case Finished():
                self.finished[event.kind] = event
                detail = f": {event.message}" if event.message else ""
                self.log.append(f"{event.kind.upper()} {event.status} after epoch {event.epoch}{detail}")


def _fmt(key: str, value: float) -> str:
    return f"{value:.2%}" if key.endswith("accuracy") else f"{value:.2f}"


def run_training(run: TrainRun, data_dir: Path) -> None:
    """Train each requested kind in turn (thread worker body)."""
    from digittui.train import TrainConfig, train

    control = TrainControl()
    run.control = control
    # Checked after publishing the control: a stop that found `run.control` unset had already set
    # the flag, and one that found it set reached the engine through it.
    if run.cancel_requested:
        control.cancel()
    for kind in run.request.kinds:
        if control.cancelled:
            break
        req = run.request
        config = TrainConfig(kind=kind, epochs=req.epochs, batch_size=req.batch_size, lr=req.lr, device=req.device)
        finished = train(config, data_dir, run.output[kind], on_event=run.events.append, control=control)
        if finished.status is not Outcome.COMPLETED:
            break
