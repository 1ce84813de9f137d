"""Choosing the weights in use: after a training run (the new metric beside the one in use), and at
any time from the list of everything kept (w on the Train screen, or the command palette)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static
from textual.worker import Worker, WorkerState

from digittui import weights
from digittui.errors import CheckpointError
from digittui.tui.jobs import user_message
from digittui.tui.screens.dialogs import ConfirmScreen
from digittui.tui.widgets import KeyButton


@dataclass
class Offer:
    """New weights from a run, and the ones in use they may replace."""

    kind: str
    path: Path  # the run's best epoch
    epoch: int
    epochs: int
    metrics: dict
    active_metrics: dict | None  # None: no usable weights in use
    active_label: str

    def question(self) -> str:
        metric = weights.METRICS[self.kind]
        new, old = metric.format(self.metrics), metric.format(self.active_metrics)
        if self.active_metrics is None:
            verdict = "Nothing usable is in use now."
        elif metric.better(self.metrics, self.active_metrics):
            verdict = "The new weights are better."
        elif metric.better(self.active_metrics, self.metrics):
            verdict = "The new weights are WORSE."
        else:
            verdict = "Both score the same."
        return (f"New {self.kind.upper()} weights: {new} (best of {self.epochs} epoch"
                f"{'' if self.epochs == 1 else 's'}: epoch {self.epoch})\n"
                f"In use now:        {old} ({self.active_label})\n{verdict} Use the new weights?\n"
                "Either way the run stays kept; w on the Train screen switches later.")

    @property
    def recommended(self) -> bool:
        return self.active_metrics is None or weights.METRICS[self.kind].better(self.metrics, self.active_metrics)


class OfferScreen(ModalScreen[bool]):
    """Dismisses with True to use the new weights, False to keep those in use."""

    BINDINGS = [Binding("u", "answer(True)", "Use new"), Binding("k,escape", "answer(False)", "Keep")]

    def __init__(self, offer: Offer) -> None:
        super().__init__()
        self.offer = offer

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Content(self.offer.question()))
            with Horizontal(classes="dialog-buttons"):
                yield KeyButton("Use new (u)", id="use", variant="primary" if self.offer.recommended else "default")
                yield KeyButton("Keep (k)", id="keep", variant="default" if self.offer.recommended else "primary")

    def on_mount(self) -> None:
        self.query_one("#use" if self.offer.recommended else "#keep").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "use")

    def action_answer(self, use: bool) -> None:
        self.dismiss(use)


class WeightsScreen(ModalScreen[bool]):
    """Every choosable checkpoint of both kinds with its test metric; the ones in use marked.
    Dismisses with True when the weights in use changed."""

    BINDINGS = [
        Binding("u", "use", "Use"),  # and enter, the table's own key (on_data_table_row_selected)
        Binding("d", "delete", "Delete run"),
        Binding("escape", "close", "Close"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[weights.Candidate] = []
        self.changed = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Label("Weights: enter uses the selected ones, d deletes a kept run, escape closes.")
            yield DataTable(id="weights-table", cursor_type="row", zebra_stripes=True)
            yield Static("Reading the checkpoints…", id="weights-status", classes="hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("", "model", "weights", "test metric", "epoch")
        self._read()

    @work(thread=True, group="weights", exclusive=True, exit_on_error=False)
    def _read(self) -> list[weights.Candidate]:
        return [weights.read(c) for kind in weights.KINDS for c in weights.candidates(kind)]

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "weights":
            return
        if event.state == WorkerState.SUCCESS:
            self._show(event.worker.result)
        elif event.state == WorkerState.ERROR:
            self.query_one("#weights-status", Static).update(Content(user_message(event.worker.error)))

    def _show(self, rows: list[weights.Candidate]) -> None:
        self.rows = rows
        explicit = self.app.explicit
        in_use = {kind: weights.resolve(kind, explicit.get(kind))[0].resolve() for kind in weights.KINDS}
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        for c in rows:
            table.add_row("*" if c.path.resolve() == in_use[c.kind] else "", c.kind.upper(), Text(c.label),
                          Text(c.metric), "" if c.epoch is None else str(c.epoch))  # Text: no markup
        table.move_cursor(row=min(cursor, len(rows) - 1))
        self.query_one("#weights-status", Static).update(
            Content(f"* in use. Runs are kept in {weights.runs_dir()}"))

    def _selected(self) -> weights.Candidate | None:
        table = self.query_one(DataTable)
        return self.rows[table.cursor_row] if self.rows and 0 <= table.cursor_row < len(self.rows) else None

    def on_data_table_row_selected(self) -> None:
        self.action_use()

    def action_use(self) -> None:
        c = self._selected()
        if c is None:
            return
        if c.error:
            self.notify(c.error, title="Cannot use these weights", severity="error", timeout=8, markup=False)
            return
        weights.choose(c.kind, None if c.label == weights.SHIPPED else c.path)
        self.app.explicit[c.kind] = None  # the choice wins over a --cnn/--vae given at launch
        self.changed = True
        self._show(self.rows)
        self.notify(f"{c.kind.upper()} in use: {c.metric} ({c.label})", timeout=4, markup=False)

    def action_delete(self) -> None:
        c = self._selected()
        run = weights.find_run(str(c.path.parent)) if c is not None else None
        if run is None:
            self.notify("Only kept runs can be deleted", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                weights.delete_run(run)
            except CheckpointError as exc:
                self.notify(str(exc), severity="error", timeout=8, markup=False)
                return
            self._show([row for row in self.rows if row.path.parent != run.folder])

        self.app.push_screen(ConfirmScreen(f"Delete {run.label} ({run.id}), its best and its last epoch?"), answered)

    def action_close(self) -> None:
        self.dismiss(self.changed)
