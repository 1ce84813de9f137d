"""The request language: what is accepted, what is refused, and that nothing else can escape."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from digittui.errors import SpecError
from digittui.spec import MAX_NUMBER_DIGITS, Request, parse, parse_many


@pytest.mark.parametrize("text, kind, classes, label", [
    ("7", "digit", (7,), "digit 7"),
    ("  0 ", "digit", (0,), "digit 0"),
    ("2026", "number", (2, 0, 2, 6), "number 2026"),
    ("007", "number", (0, 0, 7), "number 007"),
    ("16", "number", (1, 6), "number 16"),
    ("number:11", "number", (1, 1), "number 11"),
    ("NUMBER : 15", "number", (1, 5), "number 15"),
    ("number:7", "digit", (7,), "digit 7"),
    ("digit:4", "digit", (4,), "digit 4"),
    ("3+8", "hybrid", (3, 8), "hybrid 3+8"),
    (" 8 + 3 ", "hybrid", (8, 3), "hybrid 8+3"),
    ("class:11", "class", (11,), "unlearned class 11"),
    ("class: 15", "class", (15,), "unlearned class 15"),
    ("class:011", "class", (11,), "unlearned class 11"),
    ("class:3", "digit", (3,), "digit 3"),  # a digit's own unit is that digit
    ("1" * MAX_NUMBER_DIGITS, "number", (1,) * MAX_NUMBER_DIGITS, "number " + "1" * MAX_NUMBER_DIGITS),
])
def test_accepted(text, kind, classes, label):
    request = parse(text)
    assert (request.kind, request.classes, request.label) == (kind, classes, label)
    assert request.text == text.strip()
    assert request.positions == (len(classes) if kind == "number" else 1)


@pytest.mark.parametrize("text, fragment", [
    ("", "empty"),
    ("   ", "empty"),
    ("abc", "not a request"),
    ("-3", "negative"),
    ("3+3", "two different digits"),
    ("3+8+1", "exactly two digits"),
    ("12+3", "two single digits"),
    ("+", "two single digits"),
    ("1" * (MAX_NUMBER_DIGITS + 1), f"limited to {MAX_NUMBER_DIGITS} digits"),
    ("10", "ambiguous"),
    ("15", "number:15"),
    ("class:99", "only 16 outputs"),
    ("class:16", "no unit"),
    ("class:" + "9" * 5000, "only 16 outputs"),  # int() of it would raise ValueError
    ("class:x", "class:11"),
    ("number:", "digits 0-9"),
    ("digit:12", "one digit"),
    ("foo:1", "unknown prefix"),
    ("٣", "not a request"),  # Arabic-Indic three: isdigit() says yes, we say no
    ("3.5", "not a request"),
])
def test_refused(text, fragment):
    with pytest.raises(SpecError, match=fragment.replace("+", r"\+")):
        parse(text)


def test_num_outputs_bounds_classes_and_ambiguity():
    with pytest.raises(SpecError, match="only 12 outputs"):
        parse("class:13", num_outputs=12)
    assert parse("class:11", num_outputs=12).classes == (11,)
    # With no spare units there is nothing to confuse 13 with.
    assert parse("13", num_outputs=10).kind == "number"


def test_requests_are_frozen_and_hashable():
    request = parse("3+8")
    with pytest.raises(AttributeError):
        request.kind = "digit"
    assert {request, parse("3+8")} == {request}
    assert isinstance(request, Request)


def test_parse_many():
    assert [r.label for r in parse_many("3, 8 ;2026")] == ["digit 3", "digit 8", "number 2026"]
    assert [r.label for r in parse_many(["3+8", "class:12"])] == ["hybrid 3+8", "unlearned class 12"]
    for empty in ("", "  ", []):
        with pytest.raises(SpecError, match="nothing to generate"):
            parse_many(empty)
    with pytest.raises(SpecError, match="'x'"):
        parse_many("3, x")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=30))
def test_random_text_raises_only_spec_error(text):
    try:
        request = parse(text)
    except SpecError as exc:
        assert str(exc)  # every refusal says something
    else:
        assert request.kind in ("digit", "number", "hybrid", "class")
        assert all(0 <= c < 16 for c in request.classes)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789+-: classnumberdigit,;\t", max_size=20))
def test_near_miss_text_raises_only_spec_error(text):
    """Text built from the grammar's own characters reaches the deeper branches."""
    try:
        requests = parse_many(text)
    except SpecError:
        return
    for request in requests:
        assert 1 <= len(request.classes) <= MAX_NUMBER_DIGITS
        if request.kind == "hybrid":
            assert len(set(request.classes)) == 2


@given(st.integers(min_value=0, max_value=9), st.integers(min_value=0, max_value=9))
def test_every_hybrid_of_two_digits(a, b):
    if a == b:
        with pytest.raises(SpecError):
            parse(f"{a}+{b}")
    else:
        assert parse(f"{a}+{b}").classes == (a, b)
