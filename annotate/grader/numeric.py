"""A small, strict LaTeX arithmetic evaluator: the fast path's answer to closed forms without sympy.

`evaluate(text, point)` reads a conservative subset of LaTeX (numbers, + - * / ^, implicit products,
brackets, \\frac, \\sqrt, \\sqrt[n], \\pi, e, i, \\binom, !, a few functions and their positive powers
`\\sin^{2} x`, variables: a Latin or Greek letter, maybe accented `\\dot{x}` and subscripted `x_{0}`)
with a recursive-descent parser and computes a complex value, each variable taking the value `point`
assigns it. Anything outside the subset, or ambiguous in it (`\\sin x^2`, `2^3^2`, words), raises
Unsupported so that sympy decides instead: this module must never disagree with a careful reading.
Nothing is evaluated as Python; exponents and factorials are bounded before they are computed.

Two expressions that agree at two random points (polynomial identity testing) are taken as equal, and
two that differ clearly at a point are not. `u(t)` is read both ways a reader (or sympy) may read it, a
product and an unknown function applied, and decides only where both readings agree. A literal division
by zero (`\\frac{1}{0}`) is undefined, so it is not equal to anything finite.

    python -c "from annotate.grader.numeric import evaluate; print(evaluate(r'\\frac{\\sqrt{3}}{2}', {}))"
"""

from __future__ import annotations

import cmath
import math
import random
import re
import string

from annotate.grader import vocabulary as v

MAX_POWER = 1000.0
MAX_FACTORIAL = 170

_TOKEN = re.compile(r"\s*(?:((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+(?![\d.]))?)|(\\[A-Za-z]+)|([A-Za-z])|(\S))", re.ASCII)
# The functions of vocabulary.FUNCTIONS this evaluator computes (\\log is left to sympy: its base is unsaid).
_FUNCS = {
    "\\sin": cmath.sin, "\\cos": cmath.cos, "\\tan": cmath.tan, "\\arcsin": cmath.asin,
    "\\arccos": cmath.acos, "\\arctan": cmath.atan, "\\ln": cmath.log, "\\exp": cmath.exp,
    "\\sinh": cmath.sinh, "\\cosh": cmath.cosh, "\\tanh": cmath.tanh,
    "\\sec": lambda z: 1 / cmath.cos(z), "\\csc": lambda z: 1 / cmath.sin(z), "\\cot": lambda z: 1 / cmath.tan(z),
}
# Greek letters read as variables (\\pi is the constant). A Greek letter before "(" is refused: \\Gamma(5),
# \\zeta(2), \\delta(t) may name special functions.
_GREEK = {"\\" + name for name in v.GREEK}
# Accents that make a new variable name: \\dot{x} is not x.
_ACCENTS = {"\\" + name for name in v.ACCENTS}
_PRIMARY_START = set("([{") | {"\\frac", "\\sqrt", "\\pi", "\\binom"} | set(_FUNCS) | {"\\log"} | _GREEK | _ACCENTS


def _is_number(tok: str) -> bool:
    return tok[0] in "0123456789."


def _is_letter(tok: str) -> bool:
    # ASCII only: a unicode letter or digit look-alike is not ours to interpret.
    return len(tok) == 1 and tok in string.ascii_letters


class Unsupported(Exception):
    """The text is outside the evaluator's subset (or its value is not finite): let sympy decide."""


class Undefined(Unsupported):
    """The text divides by a literal zero: its value is undefined (sympy's zoo), equal to nothing finite."""


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


class _Point(dict):
    """A random point: each variable (or unknown function's coefficient) its own value, drawn on first use."""

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def __missing__(self, name: str) -> complex:
        # Seeded by the name, not by the order of use, so both sides of a comparison see the same value.
        value = complex(random.Random(f"{self.seed}:{name}").uniform(0.3, 2.7))
        self[name] = value
        return value


class _Parser:
    def __init__(self, tokens: list[str], point: dict[str, complex], calls: bool = False):
        self.t, self.i, self.point = tokens, 0, point
        self.variables: set[str] = set()
        self.inexact = False
        # `u(t)`: an unknown function applied (calls=True) or a product u * t (calls=False).
        self.calls = calls
        self.ambiguous = False

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
                self._refuse_literal_zero(self.i)
                value /= self.power()
            elif tok is not None and self._starts_primary(tok):
                if _is_number(tok):
                    raise Unsupported("a number right after a value")
                value *= self.power()
            else:
                return value

    def _refuse_literal_zero(self, at: int) -> None:
        """Raise Undefined when the divisor starting at token `at` is the literal 0 (`/0`, `{00}`, `0.0`)."""
        if at < len(self.t) and self.t[at] == "{":
            at += 1
            closing = at + 1
            if closing >= len(self.t) or self.t[closing] != "}":
                return
        elif at + 1 < len(self.t) and self.t[at + 1] in ("^", "!", "_"):
            return
        if at < len(self.t) and _is_number(self.t[at]) and float(self.t[at]) == 0:
            raise Undefined("division by zero")

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
        if tok in ("(", "["):
            # [a+b]^2 groups like (a+b)^2, as latex2sympy2_extended reads it.
            value = self.expr()
            self.take(")" if tok == "(" else "]")
            return value
        if tok == "{":
            self.i -= 1
            return self.group()
        if tok == "\\frac":
            num = self.digit_or_group()
            self._refuse_literal_zero(self.i)
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
            power = 1
            if self.peek() == "^":
                # \\sin^{2} x is (\\sin x)^2; \\sin^{-1} x is arcsin x, so only positive integers.
                self.take()
                braced = self.peek() == "{"
                if braced:
                    self.take("{")
                exponent = self.take()
                if braced:
                    self.take("}")
                if not re.fullmatch(r"[1-9]", exponent):
                    raise Unsupported("power of a function")
                power = int(exponent)
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
            return _FUNCS[tok](arg) ** power
        if tok in _GREEK or tok in _ACCENTS:
            if tok in _ACCENTS:
                self.take("{")
                inner = self.take()
                self.take("}")
                if not (_is_letter(inner) or inner in _GREEK):
                    raise Unsupported(f"accent on {inner!r}")
                tok = f"{tok}{{{inner}}}"
            value = self.variable(tok)
            if self.peek() == "(":
                raise Unsupported("a Greek letter applied: a special function?")
            return value
        if _is_letter(tok):
            nxt = self.peek()
            if nxt is not None and _is_letter(nxt) and self.i + 1 < len(self.t) and (
                _is_letter(self.t[self.i + 1])
            ):
                raise Unsupported("a word")
            if tok in "ei":
                if self.peek() == "(":
                    raise Unsupported("a constant applied")
                return complex(math.e) if tok == "e" else 1j
            name = self.subscripted(tok)
            if self.peek() == "(":
                self.ambiguous = True
                if self.calls:
                    return self.call(name)
            return self.value(name)
        raise Unsupported(f"token {tok!r}")

    def variable(self, name: str) -> complex:
        return self.value(self.subscripted(name))

    def subscripted(self, name: str) -> str:
        if self.peek() == "_":
            # x_0, x_{0}, \\omega_{n}, \\lambda_{red}: one variable, named as sympy names it.
            self.take()
            parts = [self.take()]
            if parts[0] == "{":
                parts = []
                while self.peek() != "}":
                    parts.append(self.take())
                self.take("}")
            if not parts or not all(re.fullmatch(r"[A-Za-z0-9]+", p, re.ASCII) for p in parts):
                raise Unsupported("subscript")
            if len(parts) == 1 and len(parts[0]) > 1 and self.t[self.i - 1] != "}":
                raise Unsupported("x_12 is x_1 times 2 in LaTeX")
            name = f"{name}_{''.join(parts)}"
        return name

    def value(self, name: str) -> complex:
        self.variables.add(name)
        try:
            return self.point[name]
        except KeyError:
            raise Unsupported(f"no value for {name}") from None

    def call(self, name: str) -> complex:
        """An unknown function applied, f(a): a random cubic in a, the same for every use of f at a point."""
        self.take("(")
        arg = self.expr()
        self.take(")")
        self.variables.add(f"{name}()")
        return sum(self.point[f"{name}():{k}"] * arg**k for k in range(4))


def evaluate(text: str, point: dict[str, complex]) -> tuple[complex, bool]:
    """(value, inexact): the value of `text` with variables from `point`; inexact if it had a decimal."""
    value, inexact, _, _ = _evaluate(text, point, calls=False)
    return value, inexact


def _evaluate(text: str, point: dict[str, complex], calls: bool) -> tuple[complex, bool, frozenset[str], bool]:
    """(value, inexact, variables, ambiguous): `ambiguous` when `u(t)` was read as `calls` says."""
    parser = _Parser(tokenize(text), point, calls)
    try:
        value = parser.parse()
    except (ZeroDivisionError, OverflowError, ValueError) as e:
        raise Unsupported(str(e)) from e
    if not (cmath.isfinite(value)):
        raise Unsupported("not finite")
    return value, parser.inexact, frozenset(parser.variables), parser.ambiguous


def close(a: complex, b: complex, rel: float) -> bool:
    return abs(a - b) <= max(1e-12, rel * max(abs(a), abs(b)))


# Relative slack of two exact values computed in floating point (a rounded decimal gets `rel_tol`).
_FLOAT_NOISE = 1e-9


def numeric_equal(pred: str, gt: str, rel_tol: float = 1e-6, tolerate_exact: bool = False) -> bool:
    """Equality of two closed forms (or of two expressions at two random points); raises Unsupported.

    A side written with a decimal may differ by `rel_tol` (relative); with `tolerate_exact`, two closed
    forms may too (expressions in unknowns are compared as exactly as floats allow either way)."""
    verdict, ambiguous = _equal_reading(pred, gt, False, rel_tol, tolerate_exact)
    if ambiguous and _equal_reading(pred, gt, True, rel_tol, tolerate_exact)[0] != verdict:
        raise Unsupported("u(t): a product and a function applied give different verdicts")
    return verdict


def _equal_reading(pred: str, gt: str, calls: bool, rel_tol: float, tolerate_exact: bool) -> tuple[bool, bool]:
    """(equal, ambiguous) with `u(t)` read as `calls` says."""
    ambiguous = False
    for seed in (1, 2):
        point = _Point(seed)
        try:
            a, inexact_a, names_p, ambiguous_p = _evaluate(pred, point, calls)
        except Undefined:
            # Undefined is equal to nothing finite; two undefined sides are sympy's to compare.
            _evaluate(gt, point, calls)
            return False, False
        try:
            b, inexact_b, names_g, ambiguous_g = _evaluate(gt, point, calls)
        except Undefined:
            return False, False
        ambiguous = ambiguous or ambiguous_p or ambiguous_g
        if names_p != names_g:
            return False, ambiguous
        tolerant = inexact_a or inexact_b or (tolerate_exact and not names_p)
        if not close(a, b, rel_tol if tolerant else _FLOAT_NOISE):
            return False, ambiguous
        if not names_p:
            break
    return True, ambiguous
