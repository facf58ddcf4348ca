"""The symbolic path: LaTeX -> sympy objects via latex2sympy2_extended's ANTLR parser, then comparison.

Only ever run where a wall-clock limit can kill it (a grader worker process; see annotate/grader/pool.py).
No text is evaluated as Python: latex2sympy2_extended builds sympy objects from a parse tree (its one
string-to-sympy call, `sympy.Number(token)`, gets a NUMBER token of digits, commas and dots from the
lexer), and every input first passes `check_size`, so huge powers or factorials never reach sympy.

    python -c "from annotate.grader.symbolic import symbolic_equal; print(symbolic_equal(r'\\sqrt{2}/2', r'1/\\sqrt{2}'))"
"""

from __future__ import annotations

import logging
from fractions import Fraction
from functools import lru_cache

import sympy
from latex2sympy2_extended.latex2sympy2 import ConversionConfig, NormalizationConfig, latex2sympy

from annotate.grader.guards import check_size
from annotate.grader.numbers import REL_TOL

logger = logging.getLogger(__name__)

_NORMALIZATION = NormalizationConfig(basic_latex=True, units=True, malformed_operators=True, nits=True, boxed="all", equations=False)
_CONVERSION = ConversionConfig(interpret_as_mixed_fractions=True, lowercase_symbols=False)
# Absolute slack for values that should be exactly 0 (e.g. a difference of equal closed forms).
_ZERO_TOL = sympy.Float("1e-12")
_PRECISION = 30


class ParseError(Exception):
    """latex2sympy2_extended could not read the answer."""


@lru_cache(maxsize=4096)
def parse(text: str):
    check_size(text)
    try:
        return latex2sympy(text, normalization_config=_NORMALIZATION, conversion_config=_CONVERSION)
    except Exception as e:  # noqa: BLE001 - the ANTLR converter raises bare Exception for unreadable LaTeX
        raise ParseError(f"{text!r}: {e}") from e


def _has_float(expr) -> bool:
    return any(isinstance(a, sympy.Float) for a in sympy.preorder_traversal(expr))


def _numbers_close(a, b, inexact: bool, rel_tol: Fraction) -> bool:
    try:
        x, y = sympy.N(a, _PRECISION), sympy.N(b, _PRECISION)
    except (TypeError, ValueError, ArithmeticError):
        return False
    if not (x.is_number and y.is_number) or x.has(sympy.nan) or y.has(sympy.nan):
        return False
    if x.has(sympy.zoo) or y.has(sympy.zoo):
        return False
    if x.has(sympy.oo, -sympy.oo) or y.has(sympy.oo, -sympy.oo):
        return x == y
    diff = abs(x - y)
    scale = max(abs(x), abs(y))
    tol = sympy.Float(str(rel_tol.numerator / rel_tol.denominator)) if inexact else sympy.Float("1e-15")
    return bool(diff <= _ZERO_TOL) or bool(diff <= tol * scale)


_INEQUALITIES = (sympy.StrictLessThan, sympy.LessThan, sympy.StrictGreaterThan, sympy.GreaterThan)


def _as_less_than(rel) -> tuple:
    """(d, strict) with the relation equivalent to d < 0 (strict) or d <= 0."""
    strict = isinstance(rel, (sympy.StrictLessThan, sympy.StrictGreaterThan))
    if isinstance(rel, (sympy.StrictLessThan, sympy.LessThan)):
        return rel.lhs - rel.rhs, strict
    return rel.rhs - rel.lhs, strict


def _proportional(da, db, positive: bool) -> bool:
    """Whether da = c * db for a constant c != 0 (c > 0 when `positive`): the same equation/inequality."""
    if db == 0 or da == 0:
        return da == db
    ratio = sympy.simplify(da / db)
    if ratio.free_symbols or not ratio.is_number or ratio == 0:
        return False
    return not positive or bool(ratio.is_positive)


def _expr_equal(a, b, rel_tol: Fraction, tolerate_exact: bool = False) -> bool:
    if a == b:
        return True
    inexact = _has_float(a) or _has_float(b)
    if isinstance(a, sympy.Expr) and isinstance(b, sympy.Expr):
        if not a.free_symbols and not b.free_symbols:
            return _numbers_close(a, b, inexact or tolerate_exact, rel_tol)
        if a.free_symbols != b.free_symbols:
            return False
        diff = sympy.simplify(a - b)
        if diff == 0:
            return True
        return not diff.free_symbols and _numbers_close(diff, sympy.Integer(0), inexact, rel_tol)
    if isinstance(a, sympy.Eq) and isinstance(b, sympy.Eq):
        return _proportional(a.lhs - a.rhs, b.lhs - b.rhs, positive=False)
    if isinstance(a, _INEQUALITIES) and isinstance(b, _INEQUALITIES):
        (da, strict_a), (db, strict_b) = _as_less_than(a), _as_less_than(b)
        return strict_a == strict_b and _proportional(da, db, positive=True)
    if isinstance(a, sympy.MatrixBase) and isinstance(b, sympy.MatrixBase):
        return a.shape == b.shape and all(_expr_equal(x, y, rel_tol, tolerate_exact) for x, y in zip(a, b, strict=True))
    if isinstance(a, sympy.FiniteSet) and isinstance(b, sympy.FiniteSet):
        items_b = list(b.args)
        if len(a.args) != len(items_b):
            return False
        for x in a.args:
            match = next((i for i, y in enumerate(items_b) if _expr_equal(x, y, rel_tol, tolerate_exact)), None)
            if match is None:
                return False
            del items_b[match]
        return True
    if isinstance(a, sympy.Interval) and isinstance(b, sympy.Interval):
        return (a.left_open, a.right_open) == (b.left_open, b.right_open) and all(
            _expr_equal(x, y, rel_tol, tolerate_exact) for x, y in ((a.start, b.start), (a.end, b.end)))
    if isinstance(a, sympy.Set) and isinstance(b, sympy.Set):
        return bool(a.symmetric_difference(b) == sympy.EmptySet)
    if isinstance(a, sympy.Tuple) and isinstance(b, sympy.Tuple):
        return len(a) == len(b) and all(_expr_equal(x, y, rel_tol, tolerate_exact) for x, y in zip(a, b, strict=True))
    return False


def _freeze_derivatives(expr):
    """expr with each derivative replaced by a symbol named after it.

    The parser reads dx/dt as Derivative(x, t) of a plain symbol x, which simplify evaluates to 0; then
    -dx/dt = kx - a and dx/dt = kx - a would compare equal.
    """
    if not isinstance(expr, sympy.Basic):
        return expr
    found = expr.atoms(sympy.Derivative)
    return expr.xreplace({d: sympy.Symbol(f"_d[{sympy.srepr(d)}]") for d in found}) if found else expr


def warm_up() -> None:
    """Build the ANTLR parser's caches (the first parse costs ~0.1 s)."""
    parse.__wrapped__(r"\frac{x}{2}+\sqrt{3}")


def symbolic_equal(pred: str, gt: str, rel_tol: Fraction = REL_TOL, tolerate_exact: bool = False) -> bool:
    """Whether two cleaned LaTeX answers denote the same object (rounded decimals within `rel_tol`, and any
    two closed forms with `tolerate_exact`); unreadable input is False.

    Raises TooBig for input over a size guard (the caller grades it incorrect under the rule "guard").
    """
    try:
        a, b = parse(pred), parse(gt)
    except ParseError as e:
        logger.debug("symbolic path refused: %s", e)
        return False
    try:
        return _expr_equal(_freeze_derivatives(a), _freeze_derivatives(b), rel_tol, tolerate_exact)
    except (TypeError, ValueError, AttributeError, ArithmeticError, RecursionError) as e:
        logger.debug("symbolic comparison failed: %s", e)
        return False
