"""A small, strict LaTeX arithmetic evaluator: the fast path's answer to closed forms without sympy.

`evaluate(text, point)` reads a conservative subset of LaTeX (numbers, + - * / ^, implicit products,
\\frac, \\sqrt, \\sqrt[n], \\pi, e, i, \\binom, !, a few functions, single-letter variables) with a
recursive-descent parser and computes a complex value, each variable taking the value `point` assigns
it. Anything outside the subset, or ambiguous in it (`x(1)`, `\\sin x^2`, `2^3^2`, words), raises
Unsupported so that sympy decides instead: this module must never disagree with a careful reading.
Nothing is evaluated as Python; exponents and factorials are bounded before they are computed.

Two expressions that agree at two random points (polynomial identity testing) are taken as equal.

    python -c "from annotate.numeric import evaluate; print(evaluate(r'\\frac{\\sqrt{3}}{2}', {}))"
"""

from __future__ import annotations

import cmath
import math
import random
import re
import string

MAX_POWER = 1000.0
MAX_FACTORIAL = 170

_TOKEN = re.compile(r"\s*(?:((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+(?![\d.]))?)|(\\[A-Za-z]+)|([A-Za-z])|(\S))", re.ASCII)
_FUNCS = {
    "\\sin": cmath.sin, "\\cos": cmath.cos, "\\tan": cmath.tan, "\\arcsin": cmath.asin,
    "\\arccos": cmath.acos, "\\arctan": cmath.atan, "\\ln": cmath.log, "\\exp": cmath.exp,
    "\\sinh": cmath.sinh, "\\cosh": cmath.cosh, "\\tanh": cmath.tanh,
    "\\sec": lambda z: 1 / cmath.cos(z), "\\csc": lambda z: 1 / cmath.sin(z), "\\cot": lambda z: 1 / cmath.tan(z),
}
_PRIMARY_START = set("({") | {"\\frac", "\\sqrt", "\\pi", "\\binom"} | set(_FUNCS) | {"\\log"}


def _is_number(tok: str) -> bool:
    return tok[0] in "0123456789."


def _is_letter(tok: str) -> bool:
    # ASCII only: a unicode letter or digit look-alike is not ours to interpret.
    return len(tok) == 1 and tok in string.ascii_letters


class Unsupported(Exception):
    """The text is outside the evaluator's subset (or its value is not finite): let sympy decide."""


def tokenize(text: str) -> list[str]:
    tokens = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        tokens.append(m.group(m.lastindex))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], point: dict[str, complex]):
        self.t, self.i, self.point = tokens, 0, point
        self.variables: set[str] = set()
        self.inexact = False

    def peek(self) -> str | None:
        return self.t[self.i] if self.i < len(self.t) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or expected is not None and tok != expected:
            raise Unsupported(f"expected {expected!r}, got {tok!r}")
        self.i += 1
        return tok

    def parse(self) -> complex:
        value = self.expr()
        if self.peek() is not None:
            raise Unsupported(f"unexpected {self.peek()!r}")
        return value

    def expr(self) -> complex:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> complex:
        value = self.unary()
        while True:
            tok = self.peek()
            if tok in ("*", "\\cdot", "\\times"):
                self.take()
                value *= self.power()
            elif tok in ("/", "\\div"):
                self.take()
                value /= self.power()
            elif tok is not None and self._starts_primary(tok):
                if _is_number(tok):
                    raise Unsupported("a number right after a value")
                value *= self.power()
            else:
                return value

    def _starts_primary(self, tok: str) -> bool:
        return tok in _PRIMARY_START or (_is_letter(tok)) or _is_number(tok)

    def unary(self) -> complex:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> complex:
        base = self.postfix()
        if self.peek() != "^":
            return base
        self.take()
        exponent = self.group() if self.peek() == "{" else self.atom_exponent()
        if self.peek() == "^":
            raise Unsupported("power tower")
        if abs(exponent) > MAX_POWER or abs(base) > 1e6 and abs(exponent) > 50:
            raise Unsupported("power too large")
        if exponent.imag == 0 and exponent.real == int(exponent.real) and base.imag == 0:
            return complex(base.real ** int(exponent.real))
        if base == 0:
            raise Unsupported("0 to a non-integer power")
        return cmath.exp(exponent * cmath.log(base))

    def atom_exponent(self) -> complex:
        tok = self.take()
        if re.fullmatch(r"\d", tok):
            return complex(int(tok))
        if _is_letter(tok):
            return self.variable(tok)
        raise Unsupported(f"exponent {tok!r}")

    def postfix(self) -> complex:
        value = self.primary()
        if self.peek() == "!":
            self.take()
            if value.imag != 0 or value.real != int(value.real) or not 0 <= value.real <= MAX_FACTORIAL:
                raise Unsupported("factorial of a non-small integer")
            value = complex(math.factorial(int(value.real)))
        return value

    def group(self) -> complex:
        self.take("{")
        value = self.expr()
        self.take("}")
        return value

    def digit_or_group(self) -> complex:
        if self.peek() == "{":
            return self.group()
        tok = self.take()
        if re.fullmatch(r"\d+", tok):
            # \frac12: each argument is one digit.
            if len(tok) > 1:
                self.t[self.i - 1 : self.i] = [tok[0], tok[1:]]
            return complex(int(tok[0]))
        if _is_letter(tok):
            return self.variable(tok)
        raise Unsupported(f"argument {tok!r}")

    def primary(self) -> complex:
        tok = self.take()
        if _is_number(tok):
            if len(tok) > 300:
                raise Unsupported("long literal")
            if "." in tok or "e" in tok:
                self.inexact = True
                return complex(float(tok))
            return complex(int(tok))
        if tok == "(":
            value = self.expr()
            self.take(")")
            return value
        if tok == "{":
            self.i -= 1
            return self.group()
        if tok == "\\frac":
            num = self.digit_or_group()
            den = self.digit_or_group()
            if den == 0:
                raise Unsupported("division by zero")
            return num / den
        if tok == "\\binom":
            n, k = self.digit_or_group(), self.digit_or_group()
            if any(v.imag or v.real != int(v.real) or not 0 <= v.real <= 1000 for v in (n, k)):
                raise Unsupported("binomial of non-small integers")
            return complex(math.comb(int(n.real), int(k.real)))
        if tok == "\\sqrt":
            index = 2
            if self.peek() == "[":
                self.take("[")
                index_tok = self.take()
                self.take("]")
                if not re.fullmatch(r"\d+", index_tok, re.ASCII) or int(index_tok) < 2:
                    raise Unsupported("root index")
                index = int(index_tok)
            arg = self.digit_or_group()
            if index % 2 == 1 and arg.imag == 0 and arg.real < 0:
                return -complex(abs(arg.real) ** (1 / index))
            return cmath.sqrt(arg) if index == 2 else cmath.exp(cmath.log(arg) / index)
        if tok == "\\pi":
            return complex(math.pi)
        if tok in _FUNCS:
            if self.peek() == "^":
                raise Unsupported("power of a function")
            if self.peek() == "(":
                self.take("(")
                arg = self.expr()
                self.take(")")
            elif self.peek() == "{":
                arg = self.group()
            else:
                arg = self.postfix()
                if self.peek() in ("^", "(") or self.peek() is not None and self._starts_primary(self.peek()):
                    raise Unsupported("ambiguous function argument")
            return _FUNCS[tok](arg)
        if _is_letter(tok):
            if self.peek() == "(":
                raise Unsupported("function application or product?")
            nxt = self.peek()
            if nxt is not None and _is_letter(nxt) and self.i + 1 < len(self.t) and (
                _is_letter(self.t[self.i + 1])
            ):
                raise Unsupported("a word")
            if tok == "e":
                return complex(math.e)
            if tok == "i":
                return 1j
            return self.variable(tok)
        raise Unsupported(f"token {tok!r}")

    def variable(self, name: str) -> complex:
        if self.peek() == "_":
            raise Unsupported("subscripted variable")
        self.variables.add(name)
        if name not in self.point:
            raise Unsupported(f"no value for {name}")
        return self.point[name]


def variables(text: str) -> set[str]:
    """Single-letter variable names in text (e, i and letters of commands excluded)."""
    return {t for t in tokenize(text) if _is_letter(t) and t not in "ei"}


def point_for(names: set[str], seed: int) -> dict[str, complex]:
    rng = random.Random(seed)
    return {name: complex(rng.uniform(0.3, 2.7)) for name in sorted(names)}


def evaluate(text: str, point: dict[str, complex]) -> tuple[complex, bool]:
    """(value, inexact): the value of `text` with variables from `point`; inexact if it had a decimal."""
    parser = _Parser(tokenize(text), point)
    try:
        value = parser.parse()
    except (ZeroDivisionError, OverflowError, ValueError) as e:
        raise Unsupported(str(e)) from e
    if not (cmath.isfinite(value)):
        raise Unsupported("not finite")
    return value, parser.inexact


def close(a: complex, b: complex, rel: float) -> bool:
    return abs(a - b) <= max(1e-12, rel * max(abs(a), abs(b)))


def numeric_equal(pred: str, gt: str) -> bool:
    """Equality of two closed forms (or of two expressions at two random points); raises Unsupported."""
    names_p, names_g = variables(pred), variables(gt)
    for seed in (1, 2) if names_p | names_g else (1,):
        point = point_for(names_p | names_g, seed)
        a, inexact_a = evaluate(pred, point)
        b, inexact_b = evaluate(gt, point)
        if names_p != names_g:
            return False
        if not close(a, b, 1e-6 if inexact_a or inexact_b else 1e-9):
            return False
    return True
