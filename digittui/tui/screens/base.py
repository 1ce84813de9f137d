"""What every screen shares: the header, the footer with the app's keys first, Escape out of a field,
and buttons that run the screen's actions (by click, Enter or Space)."""

from __future__ import annotations

from typing import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Button, Header, Input

from digittui.tui.widgets import KeyFooter


class DigitScreen(Screen):
    """A screen lays out its body in `compose_body`; `HOME` is the widget Escape moves the focus to
    from a text field (the screen's main button), so the screen's single keys work again."""

    HOME: str | None = None

    BINDINGS = [Binding("escape", "leave_field", "Exit field", key_display="esc")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield from self.compose_body()
        yield KeyFooter()

    def compose_body(self) -> ComposeResult:
        yield from ()

    def button_actions(self) -> dict[str, Callable[[], object]]:
        """Button id -> the action it runs: the method its key runs, and the id is that action's name
        (so `check_action` decides for both)."""
        return {}

    def sync_buttons(self) -> None:
        """Enable each button when its action is, and refresh the footer's keys.

        A focused button that gets disabled leaves the focus with no widget: Textual would hand it to
        the widget before, often a text field, which would then take the single keys as text."""
        for button_id in self.button_actions():
            button = self.query_one(f"#{button_id}", Button)
            enabled = bool(self.check_action(button_id, ()))
            if not enabled and button.has_focus:
                self.set_focus(None)
            button.disabled = not enabled
        if self.focused is None and self.HOME and not self.query_one(self.HOME).disabled:
            self.query_one(self.HOME).focus()
        self.refresh_bindings()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        action = self.button_actions().get(event.button.id or "")
        if action is not None:
            event.stop()
            action()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "leave_field":
            return isinstance(self.focused, Input)
        return True

    def action_leave_field(self) -> None:
        home = self.query_one(self.HOME) if self.HOME else None
        if home is not None and home.focusable:
            home.focus()
        else:
            self.set_focus(None)
