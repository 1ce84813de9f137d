"""What a training run tells its front ends, and how they steer it: no torch here, so the TUI can
match on these types (and create a TrainControl) before torch is imported."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Union


class Outcome(str, Enum):
    """How a run ended."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"
    DIVERGED = "diverged"

    def __str__(self) -> str:  # "completed" in messages, on every Python version
        return self.value


@dataclass
class Started:
    kind: str
    device: str  # human-readable, e.g. "NVIDIA H100" or "CPU (2 threads)"
    notice: str | None  # e.g. "cuda is not available; using the CPU instead"
    epochs: int
    start_epoch: int  # > 0 when resumed
    steps_per_epoch: int

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
    samples: Any = None  # VAE: a torch.Tensor [2, K, 28, 28] of originals and reconstructions, CPU
    train_s: float = 0.0  # seconds since the first step of this run: steps, test passes and saves,
    # without the data loading and model setup that elapsed_s includes, nor time held paused
    best: bool = False  # also saved as the run's best epoch so far (train(best=...))


@dataclass
class Finished:
    kind: str
    status: Outcome
    epoch: int  # last completed (and saved) epoch
    metrics: dict
    checkpoint: Path | None
    elapsed_s: float
    message: str = ""


Event = Union[Started, Progress, EpochEnd, Finished]


class TrainControl:
    """Pause / resume / cancel from another thread; the loop asks between steps."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._paused_s = 0.0  # written by the loop's thread only

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

    def wait_if_paused_then_should_stop(self) -> bool:
        """Block while paused; then True when the loop should stop."""
        if not self._running.is_set():
            held = time.perf_counter()
            while not self._running.wait(0.1):
                pass
            self._paused_s += time.perf_counter() - held
        return self._cancel.is_set()

    def clock(self) -> float:
        """Seconds on a clock that stands still while the loop is held paused, so that images/s, the
        ETA and train_s after a resume count running time only."""
        return time.perf_counter() - self._paused_s
