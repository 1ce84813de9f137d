"""DigitApp: the shell around the screens, and the owner of the long-running work.

The app (not a screen) loads the models, the test set and runs training in thread workers: a worker
dies with the node that started it, and the app outlives every screen. Screens learn about new state
through signals and read it from the app. Nothing here imports torch at module level, so the first
frame is drawn while a worker imports it.
"""

from __future__ import annotations

import asyncio
import os
import signal
from functools import partial
from pathlib import Path
from typing import Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState

from digittui import paths, weights
from digittui.errors import CheckpointError
from digittui.tui import jobs
from digittui.tui.screens.classify import ClassifyScreen
from digittui.tui.screens.dialogs import ConfirmScreen
from digittui.tui.screens.explore import ExploreScreen
from digittui.tui.screens.generate import GenerateScreen
from digittui.tui.screens.help import HelpScreen
from digittui.tui.screens.train import TrainScreen
from digittui.tui.screens.weights import Offer, OfferScreen, WeightsScreen

DRAIN_INTERVAL = 0.25  # s between folding training events into the UI (4 Hz redraws)
HANGUP_CHECK_INTERVAL = 2.0  # s between checks that the controlling terminal still exists


def _has_terminal() -> bool:
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY))
        return True
    except OSError:
        return False


class DigitApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "digittui"
    MODES = {
        "train": TrainScreen,
        "classify": ClassifyScreen,
        "generate": GenerateScreen,
        "explore": ExploreScreen,
        "help": HelpScreen,
    }
    DEFAULT_MODE = "classify"
    BINDINGS = [
        Binding("t", "switch_mode('train')", "Train", tooltip="Train the CNN and the VAE"),
        Binding("c", "switch_mode('classify')", "Classify", tooltip="Browse the test set, draw a digit"),
        Binding("g", "switch_mode('generate')", "Generate", tooltip="Generate digits guided by the CNN"),
        Binding("e", "switch_mode('explore')", "Explore", tooltip="The VAE's latent space"),
        Binding("question_mark", "switch_mode('help')", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, *, cnn: str | None = None, vae: str | None = None, data_dir: str | None = None,
                 device: str = "auto") -> None:
        super().__init__()
        self.explicit: dict[str, str | None] = {"cnn": cnn, "vae": vae}
        self.data_dir: Path = paths.data_dir(data_dir)
        self.device = device
        self.models: jobs.Models | None = None
        self.test_set = None  # digittui.data.Digits on the CPU, once loaded
        self.test_set_error: str | None = None
        self.train_run: jobs.TrainRun | None = None
        self.models_status = "loading models…"  # the header's first part until models load
        self._quit_after_training = False
        self.models_changed: Signal[jobs.Models] = Signal(self, "models-changed")
        self.test_set_changed: Signal[None] = Signal(self, "test-set-changed")
        self.train_changed: Signal[jobs.TrainRun] = Signal(self, "train-changed")

    def on_mount(self) -> None:
        self.update_header()
        # After the first frame: importing torch in a thread still holds the GIL for long stretches.
        self.call_after_refresh(self.load_models)
        self.set_interval(DRAIN_INTERVAL, self._drain_training)
        if not self.is_headless:
            self._exit_on_signals()
        if not self.is_headless and _has_terminal():
            # A terminal that hangs up (SSH dropped, tmux pane killed) does not always send us SIGHUP:
            # under `make run` only make's shell gets it, and the app would spin on the dead tty.
            self.set_interval(HANGUP_CHECK_INTERVAL, self._exit_if_terminal_gone)

    def _exit_on_signals(self) -> None:
        """SIGTERM, SIGHUP and a SIGINT sent from outside (in the app, Ctrl+C is a key) end the app as
        quitting does, without asking: training stops after its current step with the last completed
        epoch kept, and the terminal is restored on the way out."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            loop.add_signal_handler(signum, self.exit, 128 + signum)

    def _exit_if_terminal_gone(self) -> None:
        if not _has_terminal():
            self.exit(1)  # on_unmount stops training; the last completed epoch stays on disk

    # Models and data ---------------------------------------------------------------------------

    @work(thread=True, group="models", exclusive=True, exit_on_error=False)
    def load_models(self) -> jobs.Models:
        return jobs.load_models(self.device, self.explicit)

    @work(thread=True, group="data", exclusive=True, exit_on_error=False)
    def load_test_set(self):
        return jobs.load_test_set(self.data_dir)

    @work(thread=True, group="warm-up", exclusive=True, exit_on_error=False)
    def prepare_training(self) -> None:
        jobs.prepare_training()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker, state = event.worker, event.state
        if worker.group == "models" and state == WorkerState.SUCCESS:
            self.models = worker.result
            self.models_status = f"{self.models.weights()} · {self.models.device_name}"
            self.update_header()
            for role, error in self.models.errors.items():
                title = "No CNN for generation" if role == "decider" else f"No {role.upper()}"
                self.notify(error, title=title, severity="warning", timeout=8, markup=False)
            self.models_changed.publish(self.models)
            if self.test_set is None and self.test_set_error is None:
                self.load_test_set()
        elif worker.group == "data" and state in (WorkerState.SUCCESS, WorkerState.ERROR):
            self.test_set = worker.result
            self.test_set_error = jobs.user_message(worker.error) if state == WorkerState.ERROR else None
            self.test_set_changed.publish(None)
        elif worker.group == "models" and state == WorkerState.ERROR:
            self.models_status = "models failed to load"
            self.update_header()
            self.notify(jobs.user_message(worker.error), title="Models", severity="error", timeout=10, markup=False)
        elif worker.group == "train" and state in (WorkerState.SUCCESS, WorkerState.ERROR, WorkerState.CANCELLED):
            self._training_ended(worker)

    def update_header(self) -> None:
        """The header, on every screen: a training run's progress, the weights in use with their test
        metric, the device. The run comes first: on a narrow terminal the device is what gets cut."""
        run = self.train_run
        parts = [run.headline()] if run is not None and run.active else []
        self.sub_title = " · ".join(parts + [self.models_status])

    # Training ----------------------------------------------------------------------------------

    @property
    def training(self) -> bool:
        return self.train_run is not None and self.train_run.active

    def start_training(self, request: jobs.TrainRequest) -> None:
        if self.training:
            return
        try:
            runs = {kind: weights.new_run(kind) for kind in request.kinds}
        except (CheckpointError, OSError) as exc:
            self.notify(f"Cannot keep a new run: {exc}", title="Training", severity="error", timeout=10, markup=False)
            return
        self.train_run = jobs.TrainRun(request, runs)
        self._train(self.train_run)
        self._publish_run()

    @work(thread=True, group="train", exclusive=True, exit_on_error=False)
    def _train(self, run: jobs.TrainRun) -> None:
        jobs.run_training(run, self.data_dir)

    def pause_training(self) -> None:
        if self.train_run is not None and self.train_run.pause():
            self._publish_run()

    def resume_training(self) -> None:
        if self.train_run is not None and self.train_run.resume():
            self._publish_run()

    def stop_training(self) -> None:
        """Ask the loop to stop after its current step; the last epoch's checkpoint stays."""
        if self.train_run is not None and self.train_run.stop():
            self._publish_run()

    def on_unmount(self) -> None:
        # However the app ends, a training thread must stop too, or the process would wait for it.
        if self.train_run is not None:
            self.train_run.stop()

    def _drain_training(self) -> None:
        run = self.train_run
        if run is None or not run.events:
            return
        while run.events:
            run.apply(run.events.popleft())
        self._publish_run()

    def _publish_run(self) -> None:
        self.update_header()
        self.train_changed.publish(self.train_run)

    def _training_ended(self, worker: Worker) -> None:
        run = self.train_run
        while run.events:
            run.apply(run.events.popleft())
        run.ended(jobs.user_message(worker.error) if worker.state == WorkerState.ERROR else None)
        if run.error:
            self.notify(run.error, title="Training failed", severity="error", timeout=10, markup=False)
        self._publish_run()
        if self._quit_after_training:
            self.exit(0)
            return
        if self.test_set is None:  # the run may have downloaded MNIST
            self.load_test_set()
        for kept in run.runs.values():
            kept.discard_if_empty()
        self._offer([self._offer_for(run, kind) for kind in run.best if run.runs[kind].best.is_file()])

    def _offer_for(self, run: jobs.TrainRun, kind: str) -> Offer:
        epoch, metrics = run.best[kind]
        active = getattr(self.models, kind, None) if self.models is not None else None
        label = self.models.sources.get(kind, "none") if self.models is not None else "none"
        return Offer(kind, run.runs[kind].best, epoch, len(run.epoch_metrics[kind]), metrics,
                     active.metrics if active is not None else None, label)

    def _offer(self, offers: list[Offer]) -> None:
        """Ask, one kind after the other, whether to use a run's new weights; then load the choice."""
        if not offers:
            return

        def answered(use: bool | None) -> None:
            offer = offers[0]
            if use:
                weights.choose(offer.kind, offer.path)
                self.explicit[offer.kind] = None  # the choice wins over a --cnn/--vae given at launch
                self.load_models()
            self._offer(offers[1:])

        self.push_screen(OfferScreen(offers[0]), answered)

    def action_weights(self) -> None:
        """Choose the weights in use from everything kept."""
        def closed(changed: bool | None) -> None:
            if changed:
                self.load_models()

        self.push_screen(WeightsScreen(), closed)

    # Quitting and the command palette ---------------------------------------------------------

    async def action_quit(self) -> None:
        if not self.training:
            self.exit(0)
            return

        def answered(stop: bool | None) -> None:
            if stop:
                self._quit_after_training = True
                self.stop_training()
                self.notify("Stopping training; the last completed epoch is kept", timeout=10)

        self.push_screen(ConfirmScreen("Training is running. Stop it and quit?\n"
                                       "The checkpoint of the last completed epoch is kept."), answered)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for mode in self.MODES:
            yield SystemCommand(f"Go to {mode.title()}", f"Switch to the {mode} screen",
                                partial(self.switch_mode, mode))
        yield SystemCommand("Weights", "Choose the weights in use from the shipped ones and every kept run",
                            self.action_weights)
        # Every binding of the current screen is also a command, named by its footer description.
        seen = set()
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or active.node is self or binding.action in seen or not active.enabled:
                continue
            seen.add(binding.action)
            yield SystemCommand(binding.description, binding.tooltip or f"Key: {binding.key_display or binding.key}",
                                partial(self.run_action, binding.action, active.node))


def run_app(**options) -> int:
    """Run the app; options are DigitApp's (cnn, vae, data_dir, device)."""
    return DigitApp(**options).run() or 0
