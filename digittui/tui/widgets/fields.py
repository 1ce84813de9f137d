"""Optional number fields: empty means the default, anything else must pass Textual's validators."""

from __future__ import annotations

from textual.validation import Integer, Number
from textual.widgets import Input


class FieldError(ValueError):
    """A field holds a value that fails its validator; the message names the field."""


class NumberField(Input):
    """A whole number (`integer=True`) or a finite number in [minimum, maximum], or empty for the
    default. Typing is restricted to number characters; the range is checked as the user types, and
    the field turns red while it is out of range (never while empty)."""

    def __init__(self, label: str, minimum: float, maximum: float, *, integer: bool = True,
                 placeholder: str = "default", **kwargs) -> None:
        # One message for every failure: the range says what is wanted, whatever was typed.
        if integer:
            validator = Integer(minimum=int(minimum), maximum=int(maximum),
                                failure_description=f"a whole number from {int(minimum):,} to {int(maximum):,}")
        else:
            validator = Number(minimum=minimum, maximum=maximum,
                               failure_description=f"a number from {minimum:g} to {maximum:g}")
        super().__init__(placeholder=placeholder, type="integer" if integer else "number",
                         valid_empty=True, validators=[validator], compact=True, **kwargs)
        self.label = label
        self.integer = integer

    def read(self) -> int | float | None:
        """The value, or None when empty (the default). Raises FieldError when invalid."""
        text = self.value.strip()
        result = self.validate(text)
        if result is not None and not result.is_valid:
            raise FieldError(f"{self.label}: {result.failure_descriptions[0]}")
        if not text:
            return None
        return int(text) if self.integer else float(text)
