"""Generate screen: classifier-guided search of the VAE's latent space for a digit, a number, a
hybrid (3+8) or an unlearned output unit (class:11). Samples sharpen live (from random starts: noise
becoming digits); each sample's journey opens as a filmstrip; results save to PNG + npz + GIF."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Input, Label, Select, Static
from textual.worker import Worker, WorkerState, get_current_worker

from digittui import limits, paths
from digittui.errors import LimitError
from digittui.genconfig import INIT_HELP, GenerateConfig, Init
from digittui.tui.jobs import user_message
from digittui.tui.screens.base import DigitScreen
from digittui.tui.screens.dialogs import PromptScreen
from digittui.tui.screens.filmstrip import Filmstrip, FilmstripScreen
from digittui.tui.widgets import DigitGrid, KeyButton, LivePlot
from digittui.tui.widgets.fields import FieldError, NumberField

DEFAULT_COUNT = 8  # fewer than the CLI's 16: they must fit a terminal
DEFAULTS = GenerateConfig()
MAX_COUNT = 256  # samples per request here (the CLI has no such limit)
MAX_STEPS = 10_000
MAX_PRIOR = 100.0
MAX_SEED = limits.MAX_SEED
MORPH_FRAMES = 10


@dataclass
class Morph:
    """Frames decoded along the latent path between a generated `a` and a generated `b`."""

    a: int
    b: int
    frames: np.ndarray  # [T, 28, 28]
    predicted: list[int]  # the CNN's digit for each frame
    confidence: list[float]


class GenerateScreen(DigitScreen):
    AUTO_FOCUS = "#generate"  # not the first field: single-key bindings work until a field is clicked
    HOME = "#generate"

    BINDINGS = [
        Binding("r", "generate", "Generate"),
        Binding("s", "save", "Save PNG+npz+GIF"),
        Binding("j", "journey", "Journey"),
        Binding("m", "morph", "Morph a→b"),
        Binding("x", "stop", "Stop"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.steps: deque = deque()  # GenerateStep events from the worker, drained by a timer
        self.results: list = []  # the last run's Generated

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="gen-body"):
            with VerticalScroll(id="gen-form", classes="form"):
                with Grid(classes="fields"):
                    yield Label("What")
                    yield Input("7", placeholder="7, 2026, 3+8, class:11", compact=True, id="gen-spec")
                    yield Label("Count")
                    yield NumberField("Count", 1, MAX_COUNT, placeholder=str(DEFAULT_COUNT), id="gen-count")
                    yield Label("Start")
                    yield Select([(i.value, i.value) for i in Init], value=DEFAULTS.init.value, allow_blank=False,
                                 compact=True, id="gen-init")
                    yield Label("Steps")
                    yield NumberField("Steps", 1, MAX_STEPS, placeholder=str(DEFAULTS.steps), id="gen-steps")
                    yield Label("Prior")
                    yield NumberField("Prior", 0, MAX_PRIOR, integer=False, placeholder=str(DEFAULTS.prior_weight),
                                      id="gen-prior")
                    yield Label("Seed")
                    yield NumberField("Seed", 0, MAX_SEED, placeholder=str(DEFAULTS.seed), id="gen-seed")
                with Horizontal(classes="buttons"):
                    yield KeyButton("Run", id="generate", variant="success", compact=True)
                    yield KeyButton("Save", id="save", compact=True, disabled=True)
                    yield KeyButton("Morph", id="morph", compact=True)
                with Horizontal(classes="buttons"):  # four do not fit the form's width in one row
                    yield KeyButton("Journey (filmstrip)", id="journey", compact=True, disabled=True)
                yield Static("What: a digit 7, a number 2026, a hybrid 3+8 or class:11, an output unit no "
                             "training example targeted. Several: 3, 8.\n"
                             + "".join(f"Start {i.value}: {INIT_HELP[i]}.\n" for i in Init)
                             + "Prior: higher keeps samples nearer typical digits.\n"
                             f"Saves to {paths.export_dir()}",
                             classes="hint", id="gen-hint", markup=False)  # a path: user text
            with Vertical(id="gen-view"):
                yield Static("Press r (or enter in a field) to generate.", id="gen-status", markup=False)
                yield LivePlot("confidence", xlabel="step", ylim=(0.0, 1.0), id="gen-plot")
                with VerticalScroll(id="gen-results"):
                    yield DigitGrid(zoom=None, id="gen-grid")

    def on_mount(self) -> None:
        self.set_interval(0.25, self._drain)
        self.sync_buttons()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        running = any(w.group == "generate" and w.is_running for w in self.workers)
        if action in ("generate", "morph"):
            return not running
        if action == "stop":
            return running
        if action in ("save", "journey"):
            return bool(self.results) and not running
        return super().check_action(action, parameters)

    def button_actions(self) -> dict:
        return {"generate": self.action_generate, "save": self.action_save, "journey": self.action_journey,
                "morph": self.action_morph}


    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_generate()

    # Running -----------------------------------------------------------------------------------

    def _form(self) -> dict | None:
        """GenerateConfig fields from the form (the config itself is built in the worker: torch)."""
        fields = {"count": "#gen-count", "steps": "#gen-steps", "prior_weight": "#gen-prior", "seed": "#gen-seed"}
        try:
            values = {name: self.query_one(selector, NumberField).read() for name, selector in fields.items()}
        except FieldError as exc:
            self.report(str(exc))
            return None
        form = {name: value for name, value in values.items() if value is not None}  # None: the default
        form.setdefault("count", DEFAULT_COUNT)
        form["init"] = Init(self.query_one("#gen-init", Select).value)
        try:  # steps whose snapshots would not fit in the memory
            limits.check_generation(form["count"], form.get("steps", DEFAULTS.steps), DEFAULTS.report_every,
                                    option="Steps")
        except LimitError as exc:
            self.report(str(exc))
            return None
        return form

    def report(self, message: str, severity: str = "error") -> None:
        """A problem in the status line, where it stays, and as a toast."""
        self.query_one("#gen-status", Static).update(message)
        self.notify(message, title="Generate", severity=severity, timeout=8, markup=False)

    def _models(self):
        models = self.app.models
        missing = [name for name, role in (("CNN", "decider"), ("VAE", "vae"))
                   if models is None or getattr(models, role) is None]
        if missing:
            self.report(f"Generation needs the {' and '.join(missing)}: "
                        + ("still loading" if models is None else "train it on the Train screen (t)"),
                        severity="warning")
            return None
        return models

    def action_generate(self) -> None:
        if not self.check_action("generate", ()):
            return
        form, models = self._form(), self._models()
        if form is None or models is None:
            return
        self.results = []
        self.steps.clear()
        plot = self.query_one("#gen-plot", LivePlot)
        plot.reset()
        plot.redraw()
        self.query_one("#gen-status", Static).update("Starting…")
        self._generate(self.query_one("#gen-spec", Input).value, form, models)
        self.sync_buttons()

    @work(thread=True, group="generate", exclusive=True, exit_on_error=False, name="generate")
    def _generate(self, text: str, form: dict, models) -> list:
        from digittui.generate import GenerateConfig, generate_many, load_guide
        from digittui.spec import parse_many

        requests = parse_many(text, models.decider.model.config.num_outputs)
        worker = get_current_worker()
        return generate_many(requests, models.decider.model, models.vae.model, GenerateConfig(**form),
                             guide=load_guide(models.device), on_step=self.steps.append,
                             should_stop=lambda: worker.is_cancelled)

    def action_stop(self) -> None:
        self.workers.cancel_group(self, "generate")

    def _drain(self) -> None:
        """Show the newest snapshot of every request and extend the confidence plot (4 Hz)."""
        if not self.steps:
            return
        latest: dict[int, object] = {}
        plot = self.query_one("#gen-plot", LivePlot)
        while self.steps:
            step = self.steps.popleft()
            latest[step.index] = step
            confidence = step.confidence.numpy()
            prefix = f"#{step.index + 1} " if step.index else ""
            plot.add(f"{prefix}mean", step.step, float(confidence.mean()))
            plot.add(f"{prefix}min", step.step, float(confidence.min()))
        steps = [latest[i] for i in sorted(latest)]
        plot.xlim = (0, max(1, max(s.step for s in steps)))  # steps are whole numbers
        images = [im for s in steps for im in s.images.numpy()]
        captions = [f"{c:.2f}" for s in steps for c in s.confidence.tolist()]
        self.query_one("#gen-grid", DigitGrid).update(images, captions)
        done = sum(s.done for s in steps)
        total = sum(len(s.images) for s in steps)
        self.query_one("#gen-status", Static).update(
            f"Step {steps[0].step}/{steps[0].steps} · {done}/{total} samples confident")
        if self.is_current:
            plot.redraw()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group not in ("generate", "save"):
            return
        self.sync_buttons()
        if event.state == WorkerState.ERROR:
            self.report(user_message(worker.error))
        elif event.state != WorkerState.SUCCESS:
            return
        elif worker.group == "save":
            self._saved(worker.result)
        elif worker.name == "morph":
            self._show_morph(worker.result)
        else:
            self._show_results(worker.result)

    def _show_results(self, results: list) -> None:
        from digittui.generate import verdict

        self._drain()
        self.results = results
        images = [im for r in results for im in r.images.numpy()]
        captions = [f"{''.join(map(str, p.tolist()))} {c:.2f}" for r in results
                    for p, c in zip(r.predicted, r.confidence.tolist())]
        self.query_one("#gen-grid", DigitGrid).update(images, captions)
        stopped = " (stopped early)" if results[0].cancelled else ""
        lines = [f"{r.request.label}: {r.steps} steps{stopped}, mean confidence "
                 f"{float(r.confidence.mean()):.2f}; {verdict(r)}" for r in results]
        self.query_one("#gen-status", Static).update("\n".join(lines) + "\nCaptions: the CNN's reading, "
                                                     "confidence. j or a click shows a sample's journey, s saves.")
        self.sync_buttons()

    # Saving and morphing -----------------------------------------------------------------------

    def action_save(self) -> None:
        if self.results:
            self._save(self.results)

    @work(thread=True, group="save", exit_on_error=False)
    def _save(self, results: list) -> list:
        from digittui import export

        stem = "generate-" + "_".join(r.request.text for r in results)
        names = [export.output_path(None, stem, suffix) for suffix in (".png", ".npz", ".gif")]  # all reserved
        try:
            arrays = export.generated_arrays(results)
            return [export.save_generated_grid(names[0], results, arrays), export.save_npz(names[1], **arrays),
                    export.save_generated_journey(names[2], results)]
        finally:
            export.release_reservations(names)  # whichever was not written

    def _saved(self, files: list) -> None:
        """Say where the files went; in a browser (digittui serve) also download them there, since
        the export folder is on the server."""
        sent = ""
        if self.app.is_web:
            for path in files:
                self.app.deliver_binary(path)
            sent = " (also downloaded by your browser)"
        self.query_one("#gen-status", Static).update(Content("Saved " + " and ".join(map(str, files)) + sent))
        self.notify("Saved " + ", ".join(p.name for p in files) + sent, timeout=5, markup=False)

    def _samples(self) -> list:
        """(result, row) of every sample, in the order the grid shows them."""
        return [(r, i) for r in self.results for i in range(len(r.images))]

    def on_digit_grid_clicked(self, event: DigitGrid.Clicked) -> None:
        """A click on a generated sample opens its journey, like j and its number."""
        samples = self._samples() if event.grid.id == "gen-grid" and self.check_action("journey", ()) else []
        if event.index < len(samples):
            self.app.push_screen(FilmstripScreen(Filmstrip.of(*samples[event.index])))

    def action_journey(self) -> None:
        """Ask which sample (numbered as shown, left to right, then down), then show its filmstrip."""
        if not self.check_action("journey", ()):
            return
        samples = self._samples()

        def chosen(text: str | None) -> None:
            if text is None:
                return
            if not text.isdigit() or not 1 <= int(text) <= len(samples):
                self.report(f"Give a sample number from 1 to {len(samples)}")
                return
            self.app.push_screen(FilmstripScreen(Filmstrip.of(*samples[int(text) - 1])))

        self.app.push_screen(PromptScreen(f"Whose journey? Sample 1-{len(samples)}, numbered as shown "
                                          "(left to right, then down)", "1", "1"), chosen)

    def action_morph(self) -> None:
        def chosen(text: str | None) -> None:
            parts = (text or "").replace(" ", "").replace(">", ",").split(",")
            if text is None:
                return
            if len(parts) != 2 or not all(len(p) == 1 and p.isdigit() for p in parts) or parts[0] == parts[1]:
                self.report("Give two different digits, like 3,8")
                return
            form, models = self._form(), self._models()
            if form is not None and models is not None:
                self.query_one("#gen-status", Static).update(f"Morphing {parts[0]} → {parts[1]}…")
                self._morph(int(parts[0]), int(parts[1]), form, models)
                self.sync_buttons()

        self.app.push_screen(PromptScreen("Morph between two digits (generated, then interpolated in "
                                          "latent space)", "3,8"), chosen)

    @work(thread=True, group="generate", exclusive=True, exit_on_error=False, name="morph")
    def _morph(self, a: int, b: int, form: dict, models) -> Morph:
        from digittui.classify import classify
        from digittui.generate import GenerateConfig
        from digittui.latent import morph_generated
        from digittui.spec import parse

        frames = morph_generated(parse(str(a)), parse(str(b)), models.decider.model, models.vae.model,
                                 GenerateConfig(**form), MORPH_FRAMES).numpy()
        predictions = classify(models.decider.model, frames)
        return Morph(a, b, frames, [p.digit for p in predictions], [p.confidence for p in predictions])

    def _show_morph(self, result: Morph) -> None:
        self.results = []
        captions = [f"{d} {c:.2f}" for d, c in zip(result.predicted, result.confidence)]
        self.query_one("#gen-grid", DigitGrid).update(list(result.frames), captions)
        self.query_one("#gen-status", Static).update(
            f"Morph {result.a} → {result.b} in {len(result.frames)} frames along the latent path "
            "(spherical). Captions: the CNN's reading, confidence.")
