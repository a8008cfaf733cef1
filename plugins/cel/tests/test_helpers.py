"""The small pieces: kube's escaping, Go durations, and the optional-call rewrite."""

from __future__ import annotations

from datetime import timedelta

import pytest

from kernel_cel.convert import parse_duration
from kernel_cel.escaping import escape
from kernel_cel.rewrite import wrap_optionals


@pytest.mark.parametrize("name, escaped", [  # escaping_test.go
    ("simple", "simple"), ("a.b", "a__dot__b"), ("a-b", "a__dash__b"), ("a/b", "a__slash__b"),
    ("a__b", "a__underscores__b"), ("namespace", "__namespace__"), ("in", "__in__"), ("_a", "_a"),
    ("1a", None), ("a b", None), ("", None), ("a:b", None),
])
def test_escape(name, escaped):
    assert escape(name) == escaped


@pytest.mark.parametrize("text, seconds", [
    ("1h30m", 5400), ("1.5s", 1.5), ("-2m", -120), ("0", 0), ("300ms", 0.3), ("1h1m1s", 3661)])
def test_go_durations(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1", "1x", "h", ".s"])
def test_bad_go_durations(text):
    assert parse_duration(text) is None


@pytest.mark.parametrize("source, rewritten", [
    ("format.dns1123Label().validate(self.name).hasValue()",
     "optional.ofNonZeroValue(format.dns1123Label().validate(self.name)).hasValue()"),
    ("format.named('uri').value().validate(x)",
     "optional.ofNonZeroValue(optional.ofNonZeroValue(format.named('uri')).value().validate(x))"),
    ("(a + b).validate(c)", "optional.ofNonZeroValue((a + b).validate(c))"),
    ("x.validate(y) || z.validate(w)",
     "optional.ofNonZeroValue(x.validate(y)) || optional.ofNonZeroValue(z.validate(w))"),
    ("'.validate(' + \"format.named(\"", "'.validate(' + \"format.named(\""),
    ("self.x > 1", "self.x > 1"),
])
def test_optional_calls_are_wrapped(source, rewritten):
    assert wrap_optionals(source) == rewritten
