"""The request language of guided generation: what the user types to say which digits to draw.

    7           a digit (0-9)
    2026        a number: two or more digits, each drawn as its own 28x28 digit, side by side
    number:11   forces a number (needed for 10-15, see below); leading zeros are kept: number:007
    3+8         a hybrid: one image the classifier finds equally likely to be a 3 and an 8
    class:11    output unit 11 of the CNN: a unit that exists but that no training example ever
                targeted. Valid units are 10 to num_outputs-1; `class:3` means digit 3.

A plain 10-15 is refused as ambiguous (the number, or the unlearned class?): write `number:11` or
`class:11`. Whitespace around the tokens is ignored, prefixes are case-insensitive. Anything else
raises SpecError with a message saying what is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from digittui.errors import SpecError

NUM_DIGITS = 10  # classes 0-9 are the digits; the CNN's outputs beyond them are never targeted
MAX_NUMBER_DIGITS = 12  # a 12-digit number is already a 28x336 image
HELP = "write a digit (7), a number (2026), a hybrid of two digits (3+8) or an output unit (class:11)"

_DIGITS = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() would accept '٣' or '²'
_PREFIXED = re.compile(r"([a-z]+)\s*:\s*(.*)", re.DOTALL)


@dataclass(frozen=True)
class Request:
    text: str  # what the user typed, stripped
    kind: str  # "digit" | "number" | "hybrid" | "class"
    classes: tuple[int, ...]  # digit (d,); number: its digits in order; hybrid (a, b); class (k,)
    label: str  # for people: "digit 3", "number 2026", "hybrid 3+8", "unlearned class 11"

    @property
    def positions(self) -> int:
        """How many 28x28 digits side by side make one sample."""
        return len(self.classes) if self.kind == "number" else 1


def _show(text: str) -> str:
    """The user's text for a message, cut short so a pasted novel does not flood the terminal."""
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _number(digits: str, text: str) -> Request:
    if len(digits) > MAX_NUMBER_DIGITS:
        raise SpecError(f"{_show(text)} has {len(digits)} digits; numbers are limited to "
                        f"{MAX_NUMBER_DIGITS} digits")
    if len(digits) == 1:
        return _digit(int(digits), text)
    return Request(text, "number", tuple(int(c) for c in digits), f"number {digits}")


def _digit(d: int, text: str) -> Request:
    return Request(text, "digit", (d,), f"digit {d}")


def _unit(value: str, text: str, num_outputs: int) -> Request:
    if not _DIGITS.fullmatch(value):
        raise SpecError(f"{_show(text)}: class: takes an output unit number, e.g. class:11")
    value = value.lstrip("0") or "0"
    # Compare lengths first: int() of thousands of digits is slow, and refused past 4,300.
    if len(value) > len(str(num_outputs - 1)) or int(value) >= num_outputs:
        unlearned = (f"; its unlearned units are class:{NUM_DIGITS} to class:{num_outputs - 1}"
                     if num_outputs > NUM_DIGITS else "")
        raise SpecError(f"{_show(text)}: the CNN has only {num_outputs} outputs (units 0-{num_outputs - 1}), "
                        f"so there is no unit {_show(value)} to optimize{unlearned}")
    k = int(value)
    if k < NUM_DIGITS:
        return _digit(k, text)  # a digit's unit is the digit itself
    return Request(text, "class", (k,), f"unlearned class {k}")


def _hybrid(body: str, text: str) -> Request:
    parts = [p.strip() for p in body.split("+")]
    if len(parts) != 2:
        raise SpecError(f"{_show(text)}: a hybrid mixes exactly two digits, e.g. 3+8")
    if not all(len(p) == 1 and _DIGITS.fullmatch(p) for p in parts):
        raise SpecError(f"{_show(text)}: a hybrid is two single digits joined by +, e.g. 3+8")
    a, b = int(parts[0]), int(parts[1])
    if a == b:
        raise SpecError(f"{_show(text)}: a hybrid needs two different digits; for a plain {a} write {a}")
    return Request(text, "hybrid", (a, b), f"hybrid {a}+{b}")


def parse(text: str, num_outputs: int = 16) -> Request:
    """One request. `num_outputs` is the CNN's output count: it bounds `class:K`."""
    if not isinstance(text, str):
        raise SpecError(f"a request must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise SpecError(f"empty request: {HELP}")
    prefixed = _PREFIXED.fullmatch(stripped.lower())
    if prefixed:
        prefix, body = prefixed.group(1), prefixed.group(2).strip()
        if prefix == "class":
            return _unit(body, stripped, num_outputs)
        if prefix in ("number", "digit"):
            if not _DIGITS.fullmatch(body):
                raise SpecError(f"{_show(stripped)}: {prefix}: takes digits 0-9 only, e.g. {prefix}:"
                                + ("7" if prefix == "digit" else "2026"))
            if prefix == "digit" and len(body) != 1:
                raise SpecError(f"{_show(stripped)}: digit: takes one digit 0-9; for more write number:{body}")
            return _number(body, stripped) if prefix == "number" else _digit(int(body), stripped)
        raise SpecError(f"{_show(stripped)}: unknown prefix {prefix!r}: use number:, class: or digit:")
    if "+" in stripped:
        return _hybrid(stripped, stripped)
    if stripped.startswith("-") and _DIGITS.fullmatch(stripped[1:].strip()):
        raise SpecError(f"{_show(stripped)}: negative numbers cannot be drawn (no digit for the minus sign)")
    if not _DIGITS.fullmatch(stripped):
        raise SpecError(f"{_show(stripped)} is not a request: {HELP}")
    if len(stripped) == 2 and NUM_DIGITS <= int(stripped) < num_outputs:
        raise SpecError(f"{stripped} is ambiguous: write number:{stripped} for the two digits, or "
                        f"class:{stripped} for the CNN's unlearned output unit {stripped}")
    return _number(stripped, stripped)


def parse_many(texts: str | Iterable[str], num_outputs: int = 16) -> list[Request]:
    """Several requests: a list of texts, or one text with requests separated by commas or
    semicolons ("3, 8, 2026"). An error names the request it comes from."""
    items = re.split(r"[,;]", texts) if isinstance(texts, str) else list(texts)
    if isinstance(texts, str) and not texts.strip():
        items = []
    if not items:
        raise SpecError(f"nothing to generate: {HELP}")
    return [parse(item, num_outputs) for item in items]
