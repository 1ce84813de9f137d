"""Train screen: choose a model and its options, then watch loss, test metrics and (for the VAE)
reconstructions update live. The run itself belongs to the app, so it continues on other screens."""

from __future__ import annotations

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Input, Label, ProgressBar, Select, Static

from digittui import weights
from digittui.tui.jobs import RunState, TrainRequest, TrainRun
from digittui.tui.screens.base import DigitScreen
from digittui.tui.widgets import DigitGrid, KeyButton, LivePlot
from digittui.tui.widgets.fields import FieldError, NumberField

MODELS = [("CNN", ("cnn",)), ("VAE", ("vae",)), ("CNN, then VAE", ("cnn", "vae"))]
DEVICES = [("auto", "auto"), ("CPU", "cpu"), ("CUDA", "cuda"), ("MPS (Apple)", "mps")]
VAE_METRICS = (("recon", "test_recon"), ("KL", "test_kl"), ("total", "test_loss"))
MAX_EPOCHS = 1000
MAX_BATCH = 60_000  # the whole training set
MIN_LR, MAX_LR = 1e-6, 1.0


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TrainScreen(DigitScreen):
    AUTO_FOCUS = "#start"  # not the first field: single-key bindings work until a field is clicked
    HOME = "#start"

    BINDINGS = [
        Binding("s", "start", "Start"),
        Binding("p", "pause", "Pause/resume"),
        Binding("x", "stop", "Stop"),
        Binding("w", "app.weights", "Weights", tooltip="Choose the weights in use"),
    ]

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="train-body"):
            with VerticalScroll(id="train-form", classes="form"):
                with Grid(classes="fields"):
                    yield Label("Model")
                    yield Select(MODELS, value=MODELS[0][1], allow_blank=False, compact=True, id="train-model")
                    yield Label("Epochs")
                    yield NumberField("Epochs", 1, MAX_EPOCHS, id="train-epochs")
                    yield Label("Batch")
                    yield NumberField("Batch", 1, MAX_BATCH, id="train-batch")
                    yield Label("Peak LR")
                    yield NumberField("Peak LR", MIN_LR, MAX_LR, integer=False, id="train-lr")
                    yield Label("Device")
                    yield Select(DEVICES, value="auto", allow_blank=False, compact=True, id="train-device")
                with Horizontal(classes="buttons"):
                    yield KeyButton("Start", id="start", variant="success", compact=True)
                    yield KeyButton("Pause", id="pause", compact=True)
                    yield KeyButton("Stop", id="stop", variant="error", compact=True)
                yield Static(Content(f"Empty fields use the model's defaults (CNN 2 epochs, VAE 10). Every run "
                                     f"is kept in {weights.runs_dir()}; w chooses the weights in use."),
                             id="train-output", classes="hint")
            with Vertical(id="train-view"):
                yield Static("Not training. Pick options and press s to start.", id="train-status", markup=False)
                # A fixed total, not indeterminate: the indeterminate bar animates on a clock.
                yield ProgressBar(total=1, show_eta=False, id="train-progress")
                with Horizontal(id="train-plots"):
                    yield LivePlot("training loss", xlabel="step", id="loss-plot")
                    yield LivePlot("test metrics", xlabel="epoch", id="metric-plot")
                yield DigitGrid(zoom=0.5, id="train-recon")
                yield Static("", id="train-log", markup=False)  # paths and errors: user text

    def on_mount(self) -> None:
        self.app.prepare_training()  # the first visit: the user is likely to train soon
        self.query_one("#train-recon").display = False
        self.app.train_changed.subscribe(self, self.show_run)
        if self.app.train_run is not None:
            self.show_run(self.app.train_run)
        self._update_buttons()

    def on_screen_resume(self) -> None:
        if self.app.train_run is not None:
            self.show_run(self.app.train_run)

    # Actions -----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        training = self.app.training
        if action == "start":
            return not training
        if action == "stop":
            return training
        if action == "pause":
            return training and self.app.train_run.state in (RunState.TRAINING, RunState.PAUSED)
        return super().check_action(action, parameters)

    def button_actions(self) -> dict:
        return {"start": self.action_start, "pause": self.action_pause, "stop": self.action_stop}

    def _request(self) -> TrainRequest | None:
        def number(selector: str) -> int | float:
            return self.query_one(selector, NumberField).read() or 0  # 0: the kind's default

        try:
            return TrainRequest(
                kinds=self.query_one("#train-model", Select).value,
                epochs=number("#train-epochs"),
                batch_size=number("#train-batch"),
                lr=number("#train-lr"),
                device=self.query_one("#train-device", Select).value,
            )
        except FieldError as exc:
            self.query_one("#train-status", Static).update(str(exc))
            self.notify(str(exc), title="Invalid option", severity="error", markup=False)
            return None

    def action_start(self) -> None:
        request = self._request()
        if request is not None and not self.app.training:
            self.query_one("#loss-plot", LivePlot).reset()
            self.query_one("#metric-plot", LivePlot).reset()
            self.app.start_training(request)

    def action_pause(self) -> None:
        run = self.app.train_run
        if run is not None and run.state is RunState.PAUSED:
            self.app.resume_training()
        else:
            self.app.pause_training()

    def action_stop(self) -> None:
        self.app.stop_training()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

    # Display -----------------------------------------------------------------------------------

    def _update_buttons(self) -> None:
        run = self.app.train_run
        self.query_one("#pause", KeyButton).label = "Resume" if run is not None and run.state is RunState.PAUSED else "Pause"
        for widget in self.query("#train-form Input, #train-form Select"):
            widget.disabled = self.app.training
        self.sync_buttons()

    def show_run(self, run: TrainRun) -> None:
        """Redraw from the run's history. Called at most at the app's drain rate (4 Hz), and only
        does the plot work while this screen is visible."""
        self._update_buttons()
        self.query_one("#train-status", Static).update(self._status(run))
        self.query_one("#train-log", Static).update("\n".join(run.log[-4:]))
        progress = self.query_one("#train-progress", ProgressBar)
        if run.progress is not None:
            progress.update(total=run.progress.total_steps, progress=run.progress.step)
        elif run.active:
            progress.update(total=1, progress=0)  # loading: not the previous model's full bar
        if not self.is_current:
            return
        kind = run.kind
        loss = self.query_one("#loss-plot", LivePlot)
        loss.title = f"{kind.upper()} training loss" + (" (nats/image)" if kind == "vae" else "")
        loss.series = {"loss": ([s for s, _ in run.loss[kind]], [v for _, v in run.loss[kind]])}
        metrics = self.query_one("#metric-plot", LivePlot)
        history = run.epoch_metrics[kind]
        epochs = [e for e, _ in history]
        metrics.xlim = (1, max(epochs[-1] if epochs else 1, run.planned.get(kind, 1)))
        metrics.ybounds = (0.0, 100.0) if kind == "cnn" else (0.0, float("inf"))
        if kind == "cnn":
            metrics.title = "test accuracy %"
            metrics.series = {"accuracy": (epochs, [100 * m["test_accuracy"] for _, m in history])}
        else:
            metrics.title = "test loss (nats/image)"
            metrics.series = {label: (epochs, [m[key] for _, m in history]) for label, key in VAE_METRICS}
        for plot in (loss, metrics):
            plot.redraw(force=True)
        recon = self.query_one("#train-recon", DigitGrid)
        recon.display = run.samples is not None and kind == "vae"  # never an earlier run's
        if recon.display:
            originals, reconstructions = run.samples
            pairs = [np.concatenate(pair, axis=1) for pair in zip(originals, reconstructions)]
            recon.update(pairs, ["test | recon"] * len(pairs))

    @staticmethod
    def _status(run: TrainRun) -> str:
        if run.state is RunState.DONE:
            results = "; ".join(f"{kind.upper()} {f.status} at epoch {f.epoch}" for kind, f in run.finished.items())
            if run.error:  # the error first: it is what the user must act on
                return f"Failed: {run.error}" + (f" ({results})" if results else "")
            return "Finished: " + (results or "stopped before training began")
        p = run.progress
        if p is None:
            doing = "stopping" if run.state is RunState.STOPPING else "loading data and model"
            return f"{run.kind.upper()}: {doing}…"
        state = {RunState.PAUSED: "PAUSED", RunState.STOPPING: "stopping…"}.get(run.state, "")
        return (f"{p.kind.upper()} epoch {p.epoch}/{p.epochs} · step {p.step:,}/{p.total_steps:,} · "
                f"loss {p.loss:.4g} · {p.images_per_s:,.0f} img/s · ETA {_duration(p.eta_s)} {state}").rstrip()
