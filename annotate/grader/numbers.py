"""Exact numbers read from answer text: integers, decimals, fractions, mixed numbers, percents, thousands
separators, scientific notation, and 0-99 in words, as exact rationals.

Numbers compare exactly; a decimal written with a finite number of digits (0.0833333333333333, 4.5e33)
may differ from the other side by a relative `REL_TOL`, so 9999 never equals 10000 and 1.6 equals 1.60.
A scorer profile (annotate/grader/equivalence.py) may set another tolerance, apply it between exact
numbers too, and let a number stand for 100x or 1/100x itself (the Qwen2.5-Math scorer's rules).

    python -c "from annotate.grader.numbers import to_number; print(to_number(r'2\\frac{1}{2}'))"
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from annotate.grader.guards import MAX_DIGITS, MAX_EXPONENT, TooBig
from annotate.grader.vocabulary import NUMBER_WORDS, TENS_WORDS

# The relative difference allowed when either side is a rounded decimal.
REL_TOL = Fraction(1, 10**6)

# A thousands separator follows one to three digits that do not start with 0 ("0,111" is no thousand).
_DEC = r"(?:[1-9]\d{0,2}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+"
_NUM_RE = re.compile(
    rf"^(?P<sign>[+-]?)(?P<m>{_DEC})(?:(?:e|E)(?P<e>[+-]?\d+)|(?:\\times|\\cdot|\*|x)10\^(?:\{{(?P<e2>[+-]?\d+)\}}|(?P<e3>\d)))?"
    r"(?P<pct>%)?$", re.ASCII)
_POW10_RE = re.compile(r"^(?P<sign>[+-]?)10\^(?:\{(?P<e>[+-]?\d+)\}|(?P<e1>\d))(?P<pct>%)?$", re.ASCII)
_FRAC_RE = re.compile(r"^(?P<sign>[+-]?)(?P<whole>\d+)?\\frac(?:\{(?P<a>[^{}]+)\}|(?P<a1>\d))(?:\{(?P<b>[^{}]+)\}|(?P<b1>\d))$", re.ASCII)
# "3128 1/2": a whole number and a proper fraction written apart, as plain text writes a mixed number.
_MIXED_RE = re.compile(r"^(?P<sign>[+-]?)(?P<whole>\d+) +(?P<a>\d+)/(?P<b>\d+)$", re.ASCII)
_SLASH_RE = re.compile(r"^(?P<a>[+-]?[\d.]+)/(?P<b>[+-]?[\d.]+)$", re.ASCII)
_WORD_NUMBER_RE = re.compile(
    rf"^(?:({'|'.join(TENS_WORDS)})(?:[- ]({'|'.join(NUMBER_WORDS[1:10])}))?|({'|'.join(NUMBER_WORDS)}))$"
)


class Num(NamedTuple):
    """An exact rational read from text; `inexact` when it was written as a rounded decimal."""

    value: Fraction
    inexact: bool
    percent: bool = False


def _decimal(mantissa: str, exponent: int, sign: str = "", percent: bool = False) -> Num:
    if abs(exponent) > MAX_EXPONENT or len(mantissa) > MAX_DIGITS:
        raise TooBig(mantissa)
    mantissa = mantissa.replace(",", "")
    value = Fraction(mantissa) * Fraction(10) ** exponent
    frac_part = mantissa.partition(".")[2]
    inexact = bool(frac_part.strip("0")) or exponent < 0
    return Num(-value if sign == "-" else value, inexact, percent)


def word_number(text: str) -> int | None:
    """0-99 written in words ("seven", "twenty-five"): how a few models state a count."""
    m = _WORD_NUMBER_RE.match(text.strip().lower())
    if not m:
        return None
    if m.group(3):
        return NUMBER_WORDS.index(m.group(3))
    return 10 * (TENS_WORDS.index(m.group(1)) + 2) + (NUMBER_WORDS.index(m.group(2)) if m.group(2) else 0)


@lru_cache(maxsize=65536)
def to_number(text: str) -> Num | None:
    """The exact value of a plain number written in LaTeX (or 0-99 in words), None if `text` is not one."""
    if text[:1].isalpha():
        word = word_number(text)
        return Num(Fraction(word), False) if word is not None else None
    if ", " in text:
        # "32, 349" is a list of two numbers; a thousands separator has no space after it.
        return None
    if " " in text:
        m = _MIXED_RE.match(text.strip())
        if m:
            a, b = int(m.group("a")), int(m.group("b"))
            if not 0 < a < b or len(m.group("whole")) > MAX_DIGITS:
                return None
            value = int(m.group("whole")) + Fraction(a, b)
            return Num(-value if m.group("sign") == "-" else value, False)
    s = text.replace(" ", "")
    if len(s) > MAX_DIGITS + 20:
        return None
    m = _NUM_RE.match(s)
    if m:
        exp = int(m.group("e") or m.group("e2") or m.group("e3") or 0)
        return _decimal(m.group("m"), exp, m.group("sign"), bool(m.group("pct")))
    m = _POW10_RE.match(s)
    if m:
        return _decimal("1", int(m.group("e") or m.group("e1")), m.group("sign"), bool(m.group("pct")))
    percent = s.endswith("%")
    body = s[:-1] if percent else s
    m = _FRAC_RE.match(body)
    if m:
        a = to_number(m.group("a") or m.group("a1"))
        b = to_number(m.group("b") or m.group("b1"))
        if a is None or b is None or b.value == 0 or a.percent or b.percent:
            return None
        value = a.value / b.value
        if m.group("whole"):
            if value < 0:
                return None
            value += int(m.group("whole"))
        return Num(-value if m.group("sign") == "-" else value, a.inexact or b.inexact, percent)
    m = _SLASH_RE.match(body)
    if m:
        a, b = to_number(m.group("a")), to_number(m.group("b"))
        if a is None or b is None or b.value == 0:
            return None
        return Num(a.value / b.value, a.inexact or b.inexact, percent)
    return None


def numbers_equal(a: Num, b: Num, rel_tol: Fraction = REL_TOL, *, tolerate_exact: bool = False,
                  percent_scale: bool = False) -> bool:
    """Exact equality; within `rel_tol` when either side is a rounded decimal (or always, `tolerate_exact`);
    a percent may mean /100; with `percent_scale` b may also stand for 100 b or b / 100 (whatever is written)."""
    candidates_a = [a.value] + ([a.value / 100] if a.percent and not b.percent else [])
    candidates_b = [b.value] + ([b.value / 100] if b.percent and not a.percent else [])
    if percent_scale:
        candidates_b += [b.value / 100, b.value * 100]
    tolerant = a.inexact or b.inexact or tolerate_exact
    for x in candidates_a:
        for y in candidates_b:
            if x == y:
                return True
            if tolerant and abs(x - y) <= rel_tol * max(abs(x), abs(y)):
                return True
    return False
