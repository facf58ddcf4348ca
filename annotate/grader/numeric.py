"""A small, strict LaTeX arithmetic evaluator: the fast path's answer to closed forms without sympy.

`evaluate(text, point)` reads a conservative subset of LaTeX (numbers, + - * / ^, implicit products,
brackets, \\frac, \\sqrt, \\sqrt[n], \\pi, e, i, \\binom, !, \\log_b (\\log: base 10, as latex2sympy2_extended
reads it), floors and ceilings of closed forms, a few functions and their positive powers
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
from functools import lru_cache

from annotate.grader import vocabulary as v
from annotate.grader.scan import top_level_matches

MAX_POWER = 1000.0
MAX_FACTORIAL = 170

_SPACED_LETTERS = re.compile(r"(?<![\\A-Za-z])([A-Za-z])\s+(?=[A-Za-z](?![A-Za-z]))")
_TOKEN = re.compile(r"\s*(?:((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+(?![\d.]))?)|(\\[A-Za-z]+)|([A-Za-z])|(\S))", re.ASCII)
_ONE_DIGIT = re.compile(r"\d")
_DIGITS = re.compile(r"\d+")
_ASCII_DIGITS = re.compile(r"\d+", re.ASCII)
_SMALL_POWER = re.compile(r"[1-9]")
_SUBSCRIPT_PART = re.compile(r"[A-Za-z0-9]+", re.ASCII)
# The functions of vocabulary.FUNCTIONS this evaluator computes (and \\log, in a base, below).
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
_PRIMARY_START = (set("([{") | {"\\frac", "\\sqrt", "\\pi", "\\binom", "\\log", "\\lfloor", "\\lceil"} | set(_FUNCS) | _GREEK
                  | _ACCENTS)


def _is_number(tok: str) -> bool:
    return tok[0] in "0123456789."


def _is_letter(tok: str) -> bool:
    # ASCII only: a unicode letter or digit look-alike is not ours to interpret.
    return len(tok) == 1 and tok in string.ascii_letters


class Unsupported(Exception):
    """The text is outside the evaluator's subset (or its value is not finite): let sympy decide."""


class Undefined(Unsupported):
    """The text divides by a literal zero: its value is undefined (sympy's zoo), equal to nothing finite."""


@lru_cache(maxsize=4096)
def tokenize(text: str) -> tuple[str, ...]:
    """The tokens of text; single letters separated by a space are a product (`L C s` is L * C * s)."""
    tokens = []
    pos = 0
    text = _SPACED_LETTERS.sub(r"\1 \\cdot ", text.strip())
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        tokens.append(m.group(m.lastindex))
        pos = m.end()
    return tuple(tokens)


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
        if _ONE_DIGIT.fullmatch(tok):
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
        if _DIGITS.fullmatch(tok):
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
                if not _ASCII_DIGITS.fullmatch(index_tok) or int(index_tok) < 2:
                    raise Unsupported("root index")
                index = int(index_tok)
            arg = self.digit_or_group()
            if index % 2 == 1 and arg.imag == 0 and arg.real < 0:
                return -complex(abs(arg.real) ** (1 / index))
            return cmath.sqrt(arg) if index == 2 else cmath.exp(cmath.log(arg) / index)
        if tok == "\\pi":
            return complex(math.pi)
        if tok == "\\log":
            # \\log_{b} x, and \\log x in base 10, as latex2sympy2_extended reads them.
            base = complex(10)
            if self.peek() == "_":
                self.take()
                base = self.digit_or_group()
            arg = self.function_argument()
            if base == 1 or base == 0 or arg == 0:
                raise Unsupported("log of zero or in base 0 or 1")
            return cmath.log(arg) / cmath.log(base)
        if tok in ("\\lfloor", "\\lceil"):
            # A floor or ceiling of a closed form only: of a variable, the two random points prove nothing.
            known = len(self.variables)
            inner = self.expr()
            self.take("\\rfloor" if tok == "\\lfloor" else "\\rceil")
            if len(self.variables) != known or inner.imag != 0:
                raise Unsupported("a floor or ceiling of an unknown")
            return complex(math.floor(inner.real) if tok == "\\lfloor" else math.ceil(inner.real))
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
                if not _SMALL_POWER.fullmatch(exponent):
                    raise Unsupported("power of a function")
                power = int(exponent)
            return _FUNCS[tok](self.function_argument()) ** power
        if tok in _GREEK or tok in _ACCENTS:
            if tok in _ACCENTS:
                self.take("{")
                inner = self.take()
                self.take("}")
                if not (_is_letter(inner) or inner in _GREEK):
                    raise Unsupported(f"accent on {inner!r}")
                tok = f"{tok}{{{inner}}}"
            # \\delta(t) is read as u(t) is; but \\Gamma(5) may be a special function, so only against the same
            # application on the other side (see _refuse_unmatched_greek_call).
            return self.named(self.subscripted(tok))
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
            return self.named(self.subscripted(tok))
        raise Unsupported(f"token {tok!r}")

    def named(self, name: str) -> complex:
        """A variable, or before "(" an unknown function applied or a product, as `calls` says (`u(t)`)."""
        if self.peek() == "(":
            self.ambiguous = True
            if self.calls:
                return self.call(name)
        return self.value(name)

    def function_argument(self) -> complex:
        """The argument of a function: (x), {x}, or a single factor (\\sin x; \\sin x^2 is refused)."""
        if self.peek() == "(":
            self.take("(")
            arg = self.expr()
            self.take(")")
            return arg
        if self.peek() == "{":
            return self.group()
        arg = self.postfix()
        if self.peek() in ("^", "(") or self.peek() is not None and self._starts_primary(self.peek()):
            raise Unsupported("ambiguous function argument")
        return arg

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
            if not parts or not all(_SUBSCRIPT_PART.fullmatch(p) for p in parts):
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
    parser = _Parser(list(tokenize(text)), point, calls)
    try:
        value = parser.parse()
    except (ZeroDivisionError, OverflowError, ValueError) as e:
        raise Unsupported(str(e)) from e
    if not (cmath.isfinite(value)):
        raise Unsupported("not finite")
    return value, parser.inexact, frozenset(parser.variables), parser.ambiguous


def _refuse_unmatched_greek_call(names_p: frozenset[str], names_g: frozenset[str]) -> None:
    """A Greek letter applied on one side only (\\Gamma(5) against 24) may be a special function: sympy's."""
    if any(name.endswith("()") and name[1:-2] in v.GREEK for name in names_p ^ names_g):
        raise Unsupported("a Greek letter applied on one side only")


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
            _refuse_unmatched_greek_call(names_p, names_g)
            return False, ambiguous
        tolerant = inexact_a or inexact_b or (tolerate_exact and not names_p)
        if not close(a, b, rel_tol if tolerant else _FLOAT_NOISE):
            return False, ambiguous
        if not names_p:
            break
    return True, ambiguous


# A relation L op R, read as D kind 0 with D = sign * (L - R): `x > 1` is `1 - x < 0`.
_RELATION_OPS = {"=": ("eq", 1), "\\ne": ("ne", 1), "<": ("lt", 1), "\\lt": ("lt", 1), "\\leq": ("le", 1),
                 ">": ("lt", -1), "\\gt": ("lt", -1), "\\geq": ("le", -1)}
RELATION_PATTERN = r"(?<![<>!\\])=(?!=)|\\(?:ne|lt|gt|leq|geq)(?![A-Za-z])|[<>](?!=)"


def split_relation(text: str) -> tuple[str, str, str] | None:
    """(left, op, right) of text holding exactly one top-level relation (=, <, >, \\leq, \\geq, \\ne, \\lt, \\gt)."""
    found = top_level_matches(text, RELATION_PATTERN)
    if len(found) != 1:
        return None
    m = found[0]
    left, right = text[: m.start()].strip(), text[m.end() :].strip()
    return (left, m.group(1), right) if left and right else None


def relation_equal(pred: str, gt: str) -> bool:
    """Whether two relations say the same: the same kind (=, <, <=, !=) and sides whose differences are
    proportional (by a positive factor for inequalities), tested at three random points; raises Unsupported."""
    rp, rg = split_relation(pred), split_relation(gt)
    if rp is None or rg is None:
        raise Unsupported("not one relation on each side")
    (kind_p, sign_p), (kind_g, sign_g) = _RELATION_OPS[rp[1]], _RELATION_OPS[rg[1]]
    if kind_p != kind_g:
        return False
    verdict, ambiguous = _proportional_reading(rp, sign_p, rg, sign_g, kind_p, calls=False)
    if ambiguous and _proportional_reading(rp, sign_p, rg, sign_g, kind_p, calls=True)[0] != verdict:
        raise Unsupported("u(t): a product and a function applied give different verdicts")
    return verdict


def _difference(relation: tuple[str, str, str], sign: int, point: _Point, calls: bool):
    left, _, right = relation
    a, inexact_a, names_a, ambiguous_a = _evaluate(left, point, calls)
    b, inexact_b, names_b, ambiguous_b = _evaluate(right, point, calls)
    return sign * (a - b), inexact_a or inexact_b, names_a | names_b, ambiguous_a or ambiguous_b


def _proportional_reading(rp, sign_p, rg, sign_g, kind: str, calls: bool) -> tuple[bool, bool]:
    """(proportional, ambiguous) with `u(t)` read as `calls` says."""
    ratios, ambiguous = [], False
    for seed in (1, 2, 3):
        point = _Point(seed)
        dp, inexact_p, names_p, ambiguous_p = _difference(rp, sign_p, point, calls)
        dg, inexact_g, names_g, ambiguous_g = _difference(rg, sign_g, point, calls)
        ambiguous = ambiguous or ambiguous_p or ambiguous_g
        if not names_p or not names_g:
            raise Unsupported("a relation without unknowns")
        if names_p != names_g:
            _refuse_unmatched_greek_call(names_p, names_g)
            return False, ambiguous
        rel = 1e-6 if inexact_p or inexact_g else 1e-9
        zero_p, zero_g = abs(dp) <= 1e-12, abs(dg) <= 1e-12
        if zero_p or zero_g:
            if zero_p != zero_g:
                return False, ambiguous
            continue
        ratio = dp / dg
        if abs(ratio.imag) > rel * abs(ratio):
            raise Unsupported("a complex ratio")
        if kind in ("lt", "le") and ratio.real <= 0:
            return False, ambiguous
        if ratios and not close(ratio, ratios[0], rel):
            return False, ambiguous
        ratios.append(ratio)
    return True, ambiguous
