"""The footer: the app's keys (screens, help, quit) first, then the screen's, then the focused widget's.

Textual's Footer lists the focused widget's keys first and the app's last, so on a narrow terminal
the way to the other screens was cut off. Here the app's keys always come first, the others follow
while whole keys fit, and the command palette's key stays at the right. In a text field (which takes
printable keys as text) the app's keys stay in place, dimmed, and Escape gives them back.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding
from textual.keys import key_to_character
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # Textual exports no public name for it


class KeyFooter(Footer):
    def __init__(self, **kwargs) -> None:
        super().__init__(compact=True, **kwargs)

    def on_resize(self) -> None:
        self.call_after_refresh(self.recompose)  # which keys fit depends on the width

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        app, active = self.app, self.screen.active_bindings
        keys: list[tuple[Binding, bool, str]] = []  # the app's first, then the rest
        focused = self.screen.focused
        for binding in app.BINDINGS:
            if isinstance(binding, Binding) and binding.show:
                consumed = focused is not None and focused.check_consume_key(
                    binding.key, key_to_character(binding.key))
                keys.append((binding, not consumed, binding.tooltip))
        app_keys = len(keys)
        shown = {binding.action for binding, _, _ in keys}
        # Then the screen's keys, then the focused widget's (which often name them in the widget too).
        ordered = sorted(active.values(), key=lambda entry: entry.node is not self.screen)
        for node, binding, enabled, tooltip in ordered:
            if node is not app and binding.show and binding.action not in shown:
                shown.add(binding.action)
                keys.append((binding, enabled, tooltip))

        palette = active.get(app.COMMAND_PALETTE_BINDING)
        show_palette = self.show_command_palette and app.ENABLE_COMMAND_PALETTE and palette is not None
        room = self.size.width - (1 + self._width(palette.binding) if show_palette else 0)  # 1: its border
        for index, (binding, enabled, tooltip) in enumerate(keys):
            room -= self._width(binding)
            # -1: the last key shown needs no space after it
            if room < -1 and index >= app_keys:  # the app's own keys are never dropped
                break
            yield FooterKey(binding.key, app.get_key_display(binding), binding.description, binding.action,
                            disabled=not enabled, tooltip=tooltip).data_bind(compact=Footer.compact)
        if show_palette:
            binding = palette.binding
            yield FooterKey(binding.key, app.get_key_display(binding), binding.description, binding.action,
                            classes="-command-palette", disabled=not palette.enabled,
                            tooltip=binding.tooltip or binding.description)

    def _width(self, binding: Binding) -> int:
        """Cells a key takes in the compact style: 'k Description' and one space after it."""
        return cell_len(self.app.get_key_display(binding)) + 1 + cell_len(binding.description) + 1
