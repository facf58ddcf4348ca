"""Size guards: the limits that keep a hostile or runaway answer from costing more than a normal one.

Responses are read on a bounded tail, answers past a length are compared as strings only, and nothing
reaches sympy (annotate/grader/symbolic.py) before `check_size` has refused long, deeply nested text and
huge powers or factorials. A refused answer raises `TooBig` and is graded incorrect with the rule "guard".

    python -c "from annotate.grader.guards import check_size; check_size(r'9^{9^{9^{9}}}')"   # TooBig: power tower
"""

from __future__ import annotations

import re

from annotate.grader.scan import bracket_depth

# Responses longer than this are graded on their last MAX_RESPONSE_CHARS characters only: the answer is
# at the end, and a 1 MiB response must not cost more than a short one.
MAX_RESPONSE_CHARS = 20_000
# Answers longer than this are not compared beyond exact string equality.
MAX_ANSWER_CHARS = 2_000
# Any sympy call is refused above these (the symbolic path is also killed on a timeout).
MAX_SYMBOLIC_CHARS = 1000
MAX_DIGITS = 300
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 1000
MAX_DEPTH = 40

_LONG_NUMBER = re.compile(rf"\d{{{MAX_DIGITS},}}")
_EXPONENT = re.compile(r"\^\s*(\{(?:[^{}]|\{[^{}]*\})*\}|\d+|[A-Za-z])")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_LETTER = re.compile(r"[A-Za-z]")
_DIGITS = re.compile(r"\d+")
_FACTORIAL = re.compile(r"(\S)\s*!")
_TRAILING_DIGITS = re.compile(r"(\d+)$")
# 9^9^9: a power tower written without braces.
_BARE_TOWER = re.compile(r"\^\s*[\w.]+\s*\^")


class TooBig(Exception):
    """An answer exceeds a size guard: it is never handed to sympy."""


def check_size(s: str) -> None:
    """Raise TooBig for text that sympy could choke on: long, deeply nested, huge powers or factorials."""
    if len(s) > MAX_SYMBOLIC_CHARS:
        raise TooBig("length")
    if _LONG_NUMBER.search(s):
        raise TooBig("digits")
    if bracket_depth(s) > MAX_DEPTH:
        raise TooBig("nesting")
    if _BARE_TOWER.search(s):
        raise TooBig("power tower")
    for m in _EXPONENT.finditer(s):
        exponent = m.group(1)
        if "^" in exponent and not _LETTER.search(_COMMAND.sub("", exponent)):
            raise TooBig("power tower")
        if "!" in exponent:
            raise TooBig("factorial exponent")
        for digits in _DIGITS.findall(exponent):
            if int(digits) > MAX_EXPONENT:
                raise TooBig("exponent")
    for m in _FACTORIAL.finditer(s):
        before = s[: m.start(1) + 1]
        n = _TRAILING_DIGITS.search(before)
        if n is not None and int(n.group(1)) > MAX_FACTORIAL or n is None and before[-1] in ")}]":
            raise TooBig("factorial")
