"""Answer equivalence: a named, ordered list of checks; the first that decides names the verdict's rule.

`decide(pred, gt, symbolic)` compares two extracted answers, both normalised (annotate/grader/normalize.py).
The answer checks look at the whole answers; then the sides are read ("x = 5" and "x \\in [1, 2]" give
their value; an equation whose left side is an expression, `f(1) = 23` or `45 - 21 = 24`, states its
right side against a bare gt, but not `2x = 10` or `x^2 - 4 = 0`, equations to solve; "x = 5+5+1 = 11", a
chain, states its last side against "x = 11"; `f(t) = 2t` is `f(x) = 2x` with its variable renamed), and
the item checks walk the two sides (or, through the "structure" check, the items of a tuple, interval,
set, list, `\\pm`, union or matrix, separated by commas or, where none is, by semicolons; "inequality"
reads `a \\le x < b` or `0 < f(x) < 1` as the interval it describes). Each check returns True or False
when it decides and None to pass the case on:

    answer checks   string, words, choice, nonexistence
    item checks     string, number, decimal_comma, inequality, structure, malformed, text, primes, kind,
                    unknowns, base, infinity, relation, symbols, numeric, symbolic

Everything before "symbolic" runs in this process in microseconds without sympy: exact rationals
(annotate/grader/numbers.py) and a small LaTeX evaluator (annotate/grader/numeric.py), which also decides
two equations or inequalities (the same kind, sides proportional at random points). "symbolic" parses
both sides with latex2sympy2_extended (an ANTLR grammar: text becomes sympy objects; nothing is evaluated
as Python) after `check_size` refuses inputs that could blow up; with `symbolic=False` it raises
`NeedSymbolic` instead, so the caller can run it in a killable worker.

A `Profile` names the checks to walk and their parameters (the relative tolerance of rounded decimals,
whether it holds between exact numbers too, whether a number also stands for 100x and 1/100x itself):
another scorer is another profile, not a special case inside a check. PROFILES:

    default   ours: numbers compare exactly, a rounded decimal within a relative 1e-6
    qwen      the numeric rules of the Qwen2.5-Math scorer, which the original recipe labels and scores
              with (its `math_equal`): every two numbers within a relative 1e-4 (10001 = 10000,
              3.1416 = 3.14159), and 100x or 1/100x the gt counted equal (`include_percentage`: 0.05 and
              500 against 5). Its labeler's extra rounding of values below 1 to 2 significant digits,
              which also catches every negative number (-124 = -123), is a bug and is not followed.

    python -c "from annotate.grader.equivalence import decide; print(decide(r'\\dfrac{1}{2}', '0.5', False))"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from fractions import Fraction

from annotate.grader import vocabulary as v
from annotate.grader.normalize import clean
from annotate.grader.numbers import REL_TOL, Num, numbers_equal, to_number
from annotate.grader.numeric import RELATION_PATTERN, Unsupported, numeric_equal, relation_equal
from annotate.grader.scan import enclosed, groups_balance, split_top, top_level, top_level_matches


class NeedSymbolic(Exception):
    """The fast path could not settle the comparison; the symbolic path must."""


# ---------------------------------------------------------------- structure

_MATRIX_RE = re.compile(r"^\\begin\{([pbBvV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.S)
_ROW_BREAK = re.compile(r"\\\\")
# What any structure needs: a separator, a bracket or \pm / \cup / \begin.
_STRUCTURE_HINT = re.compile(r"[,;(\[{]|\\pm|\\cup|\\begin")


def structure(s: str) -> tuple[str, list]:
    """(kind, parts): 'matrix' (rows of cells), 'set', 'union', 'interval' (brackets + items), 'list', 'pm', 'atom'."""
    if not _STRUCTURE_HINT.search(s):
        return "atom", [s]
    m = _MATRIX_RE.match(s)
    if m is None and s[:1] in "([" and s[-1:] in ")]" and (enclosed(s, "(", ")") or enclosed(s, "[", "]")):
        # \left[\begin{array}{cc} ... \end{array}\right]: the brackets of an array are the matrix's own.
        m = _MATRIX_RE.match(s[1:-1].strip())
    if m:
        rows = [r for r in _ROW_BREAK.split(m.group(2)) if r.strip()]
        return "matrix", [[c.strip() for c in r.split("&")] for r in rows]
    if enclosed(s, "\\{", "\\}"):
        return "set", split_top(s[2:-2], ",")
    if enclosed(s, "{", "}") and len(split_top(s[1:-1], ",")) > 1:
        return "set", split_top(s[1:-1], ",")
    unions = split_top(s, "\\cup")
    if len(unions) > 1:
        return "union", unions
    # A semicolon outside brackets separates answers, each of which may be a comma list ("p=5,q=2;p=7,q=2").
    groups = split_top(s, ";") if ";" in s else [s]
    if len(groups) > 1 and all(groups):
        return "list", groups
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        items = _items(s[1:-1])
        if len(items) > 1 and all(items) and (enclosed(s, s[0], s[-1]) or enclosed("(" + s[1:-1] + ")", "(", ")")):
            return "interval", [s[0] + s[-1], items]
    items = _items(s)
    if len(items) > 1 and all(items):
        return "list", items
    if items and items[0].count("\\pm") == 1 or s.startswith("\\pm"):
        left, _, right = s.partition("\\pm")
        left = left.strip() or "0"
        return "pm", [f"{left}+{right}", f"{left}-{right}"]
    if len(s) >= 2 and enclosed(s, "(", ")") and "," not in s:
        return structure(s[1:-1].strip())
    return "atom", [s]


def _items(s: str) -> list[str]:
    """The items of a tuple or list: separated by commas, or by semicolons where no comma is ("(0;-2;6)")."""
    items = split_top(s, ",")
    return split_top(s, ";") if len(items) == 1 and ";" in s else items


# ---------------------------------------------------------------- the sides of a comparison

_GREEK_NAMES = "|".join(sorted(v.GREEK, key=len, reverse=True))
# "x = 5", "\theta = \frac{\pi}{2}", "f(x) = ...", "x \in [1, 2]": a variable named on the left.
_VAR_EQ = re.compile(
    rf"^\s*(?:(?:[A-Za-z]|\\(?:{_GREEK_NAMES}))(?:_\{{?\w+\}}?)?(?:\([A-Za-z]\))?|\(\s*[A-Za-z](?:\s*,\s*[A-Za-z])+\s*\))"
    r"\s*(?:=(?!=)|\\in(?![A-Za-z]))\s*(.+)$", re.S
)
# The left side of "name = value" in a gt: a name, not an expression (no digits outside subscripts,
# no + or -), e.g. k, |AB|, A:B, f(x), (p,q), V_{1}:V_{2}, \frac{NO}{BO}.
_NAME_LHS = re.compile(r"^[^=+\-<>]{1,40}$")
_SUBSCRIPT = re.compile(r"_\{[^{}]*\}|_\w")
_DIGIT = re.compile(r"\d")
# f(1), E(2020, 1993): a function applied to numbers names a value.
_APPLIED = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)+\s*\([^()]*\)\s*$")
# A number times one unknown: the left side of an equation still to be solved (2x = 10, \frac{1}{2}a = 3).
_UNSOLVED_LHS = re.compile(r"^-?\s*(?:\d+(?:\.\d+)?|\\frac\{\d+\}\{\d+\})?\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?$")
# f(x) = ...: a function of one variable.
_FUNCTION_EQ = re.compile(r"^\s*([A-Za-z](?:_\{?\w+\}?)?)\s*\(\s*([A-Za-z])\s*\)\s*=(?!=)\s*(.+)$", re.S)
_LETTER_OR_COMMAND = re.compile(r"\\[A-Za-z]+|[A-Za-z]")
_OPERATOR_END = ("+", "-", "*", "/", "^", "=", "\\cdot", "\\times", "\\div", "_")
_INEQUALITY_PATTERN = r"\\(?:ne|lt|gt|leq|geq)(?![A-Za-z])|[<>](?!=)"
_INEQUALITY_HINT_RE = re.compile(_INEQUALITY_PATTERN)
_INCREASING = ("<", "\\lt", "\\leq")
_FLIPPED = {"<": ">", "\\lt": ">", "\\leq": "\\geq", ">": "<", "\\gt": "<", "\\geq": "\\leq", "\\ne": "\\ne"}
# An unknown, or a function's value f(x): what an inequality bounds.
_VARIABLE_RE = re.compile(rf"^(?:[A-Za-z]|\\(?:{_GREEK_NAMES}))(?:_\{{?\w+\}}?)?(?:\([A-Za-z]\))?$")


def _name_value(s: str) -> str | None:
    """The value of "name = value" (one top-level =, a name or a function applied on the left), None otherwise."""
    parts = split_top(s, "=")
    if len(parts) != 2 or not parts[1]:
        return None
    lhs = _SUBSCRIPT.sub("", parts[0])
    if not _NAME_LHS.match(lhs) or _DIGIT.search(lhs) and not _APPLIED.match(lhs):
        return None
    return parts[1]


def _named(items: list[str]) -> dict[str, str] | None:
    """{name: value} of a list whose items all name a different variable ("x = 1, y = 2"), else None."""
    named = {}
    for item in items:
        m = _VAR_EQ.match(item)
        if m is None:
            return None
        named[item[: m.start(1)].split("=")[0].strip().replace(" ", "")] = m.group(1).strip()
    return named if len(named) == len(items) > 1 else None


def strip_var(s: str) -> str:
    """The value of "x = value" / "x \\in set"; s itself otherwise."""
    m = _VAR_EQ.match(s)
    return m.group(1).strip() if m else s


def _stated_value(s: str) -> str:
    """The value an equation states about its left side: `f(1) = 23`, `|r-s| = 16`, `45 - 21 = 24` give the
    right-hand side of the last =; an equation left unsolved (`2x = 10`) or a list is kept whole."""
    if "=" not in s or structure(s)[0] != "atom":
        return s
    cuts = [i for i in top_level(s, "=") if s[i - 1 : i] not in ("<", ">", "!", "\\")]
    if not cuts:
        return s
    lhs, rhs = s[: cuts[-1]].strip(), s[cuts[-1] + 1 :].strip()
    if not lhs or not rhs or _UNSOLVED_LHS.match(lhs) or _RELATION_RE.search(rhs):
        return s
    if rhs == "0" and _has_free_symbol(lhs):
        return s  # x^2 - 4 = 0: an equation to solve, not the value of its left side
    return rhs


def _rename(expr: str, old: str, new: str) -> str:
    """expr with the variable `old` (a letter outside command names) renamed `new`."""
    return _LETTER_OR_COMMAND.sub(lambda m: new if m.group() == old else m.group(), expr)


def _sides(p: str, g: str) -> tuple[str, str]:
    """The two things to compare once "name = value" is read: values, unless both sides are equations."""
    if "=" not in g:
        # "x \\in [-2,7]" on either side is its set; `f(1) = 23` against 23 states its right-hand side.
        p, g = strip_var(p), strip_var(g)
        return (_stated_value(p) if not _RELATION_RE.search(g) else p), g
    if "=" not in p and _name_value(g) is not None:
        return p, _name_value(g)
    if ("=" in p and p.split("=")[0].strip() == g.split("=")[0].strip()
            and (g.count("=") == 1 or not top_level(p, ",") and not top_level(g, ","))):
        # One name on both sides: its values; a chain "x = 5+5+1 = 11" states its last side.
        return _stated_value(p.partition("=")[2].strip()), _stated_value(g.partition("=")[2].strip())
    fp, fg = _FUNCTION_EQ.match(p), _FUNCTION_EQ.match(g)
    if fp and fg and fp.group(1) == fg.group(1) and fp.group(2) != fg.group(2) and fg.group(2) not in symbols(fp.group(3)):
        # f(t) = 2t + 1 and f(x) = 2x + 1: one function, its variable named differently.
        return _rename(fp.group(3).strip(), fp.group(2), fg.group(2)), fg.group(3).strip()
    return p, g


# ---------------------------------------------------------------- checks

@dataclass(frozen=True)
class Profile:
    """Which checks decide, in which order, with which parameters."""

    name: str
    answer_checks: tuple[str, ...]  # on the whole answers, before "name = value" is read
    item_checks: tuple[str, ...]  # on the two sides, and on the items of structured answers
    rel_tol: Fraction = REL_TOL  # relative difference allowed when either side is a rounded decimal
    tolerate_exact: bool = False  # rel_tol also between two exact numbers or closed forms (10001 vs 10000)
    percent_scale: bool = False  # a number also equals 100x and 1/100x the gt (0.05 and 500 vs 5)

    def __hash__(self) -> int:
        # By name: the generated hash of every field costs microseconds (a Fraction's hash takes a modular
        # inverse), and the verdict caches hash the profile on every call. Equal profiles share a name.
        return hash(self.name)


@dataclass
class Case:
    """One comparison as the checks see it: the raw answers, the cleaned sides, their plain-number values."""

    pred: str
    gt: str
    p: str
    g: str
    profile: Profile
    symbolic: bool

    @property
    def np_(self) -> Num | None:
        return to_number(self.p)

    @property
    def ng(self) -> Num | None:
        return to_number(self.g)

    def on(self, p: str, g: str) -> Case:
        return Case(self.pred, self.gt, p, g, self.profile, self.symbolic)


Check = Callable[[Case], "bool | tuple[bool, str] | None"]

_CHOICE_RE = re.compile(r"^\(?([A-Ea-e])\)?$")
_CHOICE_PRED_RE = re.compile(r"^\(?([A-E])\)(?:\s|$)|^([A-E])$|^\(?([A-E])\)?[.:]?\s|^\(([a-e])\)$")
_CHOICE_WITH_VALUE_RE = re.compile(r"^\(([A-Ea-e])\)\s*(.+)$|^([A-E])\)\s*(.+)$|^([A-E])[.:]\s+(.+)$", re.S)
# A letter in a font command (\mathcal{B}, \textbf{C}): the letter, for multiple-choice answers.
_FONT_LETTER = re.compile(
    v.commands_pattern(v.WORD_COMMANDS | v.STYLE_COMMANDS | v.ALPHABET_COMMANDS) + r"\s*\{\s*\(?([A-Za-z])\)?\s*\}"
)
_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z '\-]{3,}$")
_WORDS_RE = re.compile(r"^[A-Za-z][A-Za-z '\-]*[A-Za-z]$")
_TEXT_WRITTEN_RE = re.compile(v.commands_pattern(v.WORD_COMMANDS) + r"\s*\{")
_CLOCK_RE = re.compile(r"^\d+:\d+$", re.ASCII)
_PRIME_RE = re.compile(r"\\prime(?![A-Za-z])")
_BASE_RE = re.compile(r"^(\d+)_\{?(\d+)\}?$", re.ASCII)
_INFINITY_RE = re.compile(r"^([+-]?)\\infty$")
# An equation or inequality: sympy reads it as a Relational, which never equals a number or expression.
_COMPARISON_HINT_RE = re.compile(r"[<>=]|" + v.commands_pattern(v.RELATIONS))


def _is_relation(s: str) -> bool:
    """Whether s is an equation or inequality: a relation outside every bracket (not the = of \\sum_{k=1})."""
    return bool(_COMPARISON_HINT_RE.search(s)) and bool(top_level_matches(s, RELATION_PATTERN))
_RELATION_RE = re.compile(r"[<>=]|" + v.commands_pattern(v.RELATIONS | {"in", "mathbb", "emptyset", "varnothing", "infty"}))
_CONSTANT_CMDS = re.compile(v.commands_pattern(v.FUNCTIONS | v.OPERATORS | v.CONSTANTS - {"hbar"} | {"dfrac"}))
_FREE_SYMBOL = re.compile(r"\\[A-Za-z]+|[A-DF-HJ-Za-df-hj-z]")
_GREEK_RE = re.compile(rf"\\({_GREEK_NAMES}|hbar)(?![A-Za-z])")
_COMMAND_RE = re.compile(r"\\[A-Za-z]+")
_LATIN_RE = re.compile(r"[A-Za-z]")
_BINDER_RE = re.compile(r"\\(?:sum|prod|int|oint|lim|bigcup|bigcap)(?![A-Za-z])|\\frac\{d")
# The index of a sum or product, the variable of a limit; the variable of an integral's differential.
_INDEX_RE = re.compile(r"\\(?:sum|prod|bigcup|bigcap)_\{?\s*([A-Za-z])\s*=|\\lim_\{?\s*([A-Za-z])(?=\s*\\to)")
_DIFFERENTIAL_RE = re.compile(r"\bd\s*([A-Za-z])\b")


def _font_letter(s: str) -> str:
    m = _FONT_LETTER.fullmatch(s)
    return m.group(1) if m else s


def same_string(c: Case) -> bool | None:
    """Equal after normalisation (spaces aside)."""
    return True if c.p.replace(" ", "") == c.g.replace(" ", "") else None


def same_words(c: Case) -> bool | None:
    """Text answers that differ only in letter case: \\text{No} and \\text{no}, "Yes" and "yes".

    Either side must have been written as text (\\text{}, \\mathrm{}, ...) or the two differ only in the case
    of their first letter (sentence capitalisation); "AB" and "ab" (two segments) stay different.
    """
    p, g = c.p, c.g
    if not (_WORDS_RE.match(p) and _WORDS_RE.match(g)) or p.lower() != g.lower():
        return None
    written_as_text = bool(_TEXT_WRITTEN_RE.search(c.pred) or _TEXT_WRITTEN_RE.search(c.gt))
    return True if written_as_text or p[1:] == g[1:] else None


def _choice_label(s: str) -> tuple[str, str] | None:
    """(letter, value) of an option written with its value: "(a) 3/4", "C) 12", "B. 7"."""
    m = _CHOICE_WITH_VALUE_RE.match(s)
    if m is None:
        return None
    letter = m.group(1) or m.group(3) or m.group(5)
    value = (m.group(2) or m.group(4) or m.group(6)).strip()
    return (letter.upper(), value) if value else None


def same_choice(c: Case) -> bool | tuple[bool, str] | None:
    """A multiple-choice answer: a gt letter (A-E) against a letter, "(B)", "B." or "(b) 3/4"; an option
    written with its value ("(a) 3/4") against a gt value compares the value."""
    g, p = _font_letter(c.g.strip()), _font_letter(c.p.strip())
    m = _CHOICE_RE.match(g)
    if m:
        found = _CHOICE_PRED_RE.match(p.strip())
        if found:
            return (found.group(1) or found.group(2) or found.group(3) or found.group(4)).upper() == m.group(1).upper()
        labelled = _choice_label(p)
        return labelled[0] == m.group(1).upper() if labelled else None
    labelled_p, labelled_g = _choice_label(p), _choice_label(g)
    if labelled_p and not labelled_g:
        return compare(c.on(labelled_p[1], g))
    if labelled_g and not labelled_p:
        letter = _CHOICE_RE.match(p)
        return letter.group(1).upper() == labelled_g[0] if letter else compare(c.on(p, labelled_g[1]))
    return None


def same_nonexistence(c: Case) -> bool | None:
    """"does not exist", "DNE", "undefined", "no solution", \\emptyset: answers that name no value, one spelling
    each; such an answer never equals a value."""
    p, g = v.NO_VALUE.get(c.p.lower()), v.NO_VALUE.get(c.g.lower())
    if p is None and g is None:
        return None
    return p == g


def same_number(c: Case) -> bool | None:
    """Both sides plain numbers: exact, or within the profile's tolerance for a rounded decimal."""
    if c.np_ is None or c.ng is None:
        return None
    profile = c.profile
    return numbers_equal(c.np_, c.ng, profile.rel_tol, tolerate_exact=profile.tolerate_exact,
                         percent_scale=profile.percent_scale)


def same_structure(c: Case) -> tuple[bool, str] | None:
    """Tuples, intervals, sets, lists, `\\pm`, unions and matrices, item by item (a gt tuple is ordered)."""
    kp, partsp = structure(c.p)
    kg, partsg = structure(c.g)
    if kg == "atom" and kp == "atom":
        return None
    if kg == "matrix" or kp == "matrix":
        if kg != kp or [len(r) for r in partsp] != [len(r) for r in partsg]:
            return False, "structure"
        return _all_equal(c, [x for r in partsp for x in r], [x for r in partsg for x in r])
    if kg == "interval" and kp == "interval":
        if partsg[0] != partsp[0] or len(partsg[1]) != len(partsp[1]):
            return False, "structure"
        return _all_equal(c, partsp[1], partsg[1])
    unordered = {"set", "list", "pm", "union"}
    if kg in unordered and kp in unordered | {"interval"} or kp in unordered and kg == "interval":
        items_p = partsp[1] if kp == "interval" else partsp
        items_g = partsg[1] if kg == "interval" else partsg
        if kp == "interval" and kg != "list" or kg == "interval" and kp != "list":
            return False, "structure"
        named_p, named_g = _named(items_p), _named(items_g)
        if named_p is not None and named_g is not None:
            # "x = 1, y = 2": values by their names.
            if named_p.keys() != named_g.keys():
                return False, "structure"
            return _all_equal(c, [named_p[k] for k in named_g], list(named_g.values()))
        if named_g is not None and kp == "interval":
            # A tuple against named values: in the order the gt names them.
            if len(items_p) != len(named_g):
                return False, "structure"
            return _all_equal(c, items_p, list(named_g.values()))
        items_p, items_g = [_item_value(x, False) for x in items_p], [_item_value(x, True) for x in items_g]
        if kg == "interval":
            # A gt tuple is ordered: "x = 2, y = 1" is not (1, 2).
            if len(items_p) != len(items_g):
                return False, "structure"
            return _all_equal(c, items_p, items_g)
        return _same_multiset(c, items_p, items_g)
    if c.symbolic:
        return None  # sympy reads both
    if (kg == "atom" and _RELATION_RE.search(c.g)) or (kp == "atom" and _RELATION_RE.search(c.p)):
        # A bare relation against a collection: only sympy can equate them (x \in [1,2] with [1,2]),
        # unless what settles atoms without sympy (different unknowns) settles it.
        return None
    return False, "structure"


def _item_value(item: str, gt: bool) -> str:
    """An item of a list: "x = 1" gives 1; in a gt, so does any name the gt gives a value ("AB=4,CD=5" against
    "4, 5"). An item that is a list itself ("p=5,q=2" of "p=5,q=2;p=7,q=2") is compared whole."""
    if top_level(item, ","):
        return item
    return (_name_value(item) if gt else None) or strip_var(item)


def _all_equal(c: Case, ps: list[str], gs: list[str]) -> tuple[bool, str]:
    rule = "string"
    for a, b in zip(ps, gs, strict=True):
        ok, r = compare(c.on(a, b))
        if not ok:
            return False, r
        rule = r if r != "string" else rule
    return True, rule


def _same_multiset(c: Case, ps: list[str], gs: list[str]) -> tuple[bool, str]:
    """Set equality: every predicted item matches a gt item and every gt item is matched (repeats allowed)."""
    rule = "string"
    matched = [False] * len(gs)
    for a in ps:
        for i, b in enumerate(gs):
            ok, r = compare(c.on(a, b))
            if ok:
                rule = r if r != "string" else rule
                matched[i] = True
                break
        else:
            return False, "structure"
    return all(matched), rule if all(matched) else "structure"


def _bound(op: str, value: str, variable_left: bool) -> tuple[str, str]:
    """The interval `x op value` (or `value op x`) describes: (left end, right end) with their brackets."""
    if not variable_left:
        op = _FLIPPED[op]
    if op in ("<", "\\lt"):
        return "(-\\infty", value + ")"
    if op == "\\leq":
        return "(-\\infty", value + "]"
    if op in (">", "\\gt"):
        return "(" + value, "\\infty)"
    return "[" + value, "\\infty)"


def as_interval(s: str) -> tuple[str, str] | None:
    """(variable, solution set) of an inequality in one unknown, as interval notation: `k < -5` ->
    (-\\infty, -5); `\\frac12 \\le x \\le 8` -> [\\frac12, 8]; `x < 2, x > 3` (an "or" list) and `x \\ne 3` -> a
    union. None for anything else."""
    items = split_top(s, ",")
    if len(items) > 1:
        parts = [as_interval(item) for item in items]
        if any(p is None for p in parts) or len({p[0] for p in parts}) != 1:
            return None
        return parts[0][0], " \\cup ".join(p[1] for p in parts)
    found = top_level_matches(s, _INEQUALITY_PATTERN)
    if not found or len(found) > 2:
        return None
    cuts = [0] + [i for m in found for i in (m.start(), m.end())] + [len(s)]
    sides = [s[a:b].strip() for a, b in zip(cuts[::2], cuts[1::2], strict=True)]
    ops = [m.group(1) for m in found]
    if len(found) == 1:
        (left, right), op = sides, ops[0]
        if _VARIABLE_RE.match(left) and _closed_form(right):
            variable, value, variable_left = left, right, True
        elif _VARIABLE_RE.match(right) and _closed_form(left):
            variable, value, variable_left = right, left, False
        else:
            return None
        if op == "\\ne":
            return variable, f"(-\\infty, {value}) \\cup ({value}, \\infty)"
        lo, hi = _bound(op, value, variable_left)
        return variable, f"{lo}, {hi}"
    low, variable, high = sides
    if not (_VARIABLE_RE.match(variable) and _closed_form(low) and _closed_form(high)) or "\\ne" in ops:
        return None
    if all(op in _INCREASING for op in ops):
        left_op, right_op = ops
    elif not any(op in _INCREASING for op in ops):
        low, high, left_op, right_op = high, low, _FLIPPED[ops[1]], _FLIPPED[ops[0]]
    else:
        return None
    left = ("[" if left_op == "\\leq" else "(") + low
    right = high + ("]" if right_op == "\\leq" else ")")
    return variable, f"{left}, {right}"


def _closed_form(s: str) -> bool:
    return bool(s) and not _has_free_symbol(s)


_DECIMAL_COMMA_RE = re.compile(r"^[+-]?\d+,\d+$", re.ASCII)
_DECIMAL_POINT_RE = re.compile(r"^[+-]?\d*\.\d+$", re.ASCII)


def same_decimal_comma(c: Case) -> tuple[bool, str] | None:
    """A decimal comma (1000,99; 0,111) against a number written with a decimal point compares as that decimal.
    A comma that can separate thousands (1,234) is read as such by "number"; a point is needed on the other
    side, so "1,5" against 15 or against a list stays a list."""
    for a, b in ((c.p, c.g), (c.g, c.p)):
        if _DECIMAL_POINT_RE.match(b) and _DECIMAL_COMMA_RE.match(a) and to_number(a) is None:
            point = a.replace(",", ".")
            return compare(c.on(point, b) if a is c.p else c.on(b, point))
    return None


def same_solution_set(c: Case) -> tuple[bool, str] | None:
    """An inequality in one unknown against interval notation (or another inequality): as solution sets."""
    if not (_INEQUALITY_HINT_RE.search(c.p) or _INEQUALITY_HINT_RE.search(c.g)):
        return None
    ip, ig = as_interval(c.p), as_interval(c.g)
    if ip is None and ig is None:
        return None
    if ip is not None and ig is not None:
        if ip[0] != ig[0]:
            return False, "symbols"
        return compare(c.on(ip[1], ig[1]))
    other = c.g if ip is not None else c.p
    if structure(other)[0] not in ("interval", "union"):
        return None
    return compare(c.on(ip[1] if ip else c.p, ig[1] if ig else c.g))


def well_formed(c: Case) -> bool | None:
    """An expression cut off after an operator (`x_{0} \\cos(\\omega t)+`) or with a brace left open reads as
    nothing (sympy fails on it too): it equals no other answer."""
    if c.p.endswith(_OPERATOR_END) or c.g.endswith(_OPERATOR_END) or not groups_balance(c.p) or not groups_balance(c.g):
        return False
    return None


def same_words_or_clock(c: Case) -> bool | None:
    """Two words (or two clock times) compare as text, case-insensitively."""
    p, g = c.p, c.g
    if _WORD_RE.match(p) and _WORD_RE.match(g) or _CLOCK_RE.match(p) and _CLOCK_RE.match(g):
        return p.replace(" ", "").lower() == g.replace(" ", "").lower()
    return None


def _primes(s: str) -> int:
    return s.count("'") + len(_PRIME_RE.findall(s))


def same_primes(c: Case) -> bool | None:
    """E' is another point than E, f'(x) another function than f(x)."""
    return False if _primes(c.p) != _primes(c.g) else None


def same_kind(c: Case) -> bool | None:
    """A word never equals a number."""
    return False if _WORD_RE.match(c.p) and c.ng is not None or _WORD_RE.match(c.g) and c.np_ is not None else None


def _has_free_symbol(s: str) -> bool:
    """Whether s names an unknown: a letter other than e and i, or a command that is not a constant/operator."""
    return bool(_FREE_SYMBOL.search(_CONSTANT_CMDS.sub(" ", s)))


def _bound_letters(s: str) -> set[str]:
    """Letters s binds itself (the k of \\sum_{k=1}^{n}, the x of \\lim_{x \\to 0} or of \\int ... dx, the d of
    an integral or of d/dt): not unknowns."""
    if not _BINDER_RE.search(s):
        return set()
    bound = {m.group(1) or m.group(2) for m in _INDEX_RE.finditer(s)}
    integral = s.find("\\int")
    if integral >= 0:
        bound |= {m.group(1) for m in _DIFFERENTIAL_RE.finditer(s, integral)} | {"d"}
    if "\\frac{d" in s:
        bound.add("d")
    return bound


def same_unknowns(c: Case) -> bool | None:
    """A plain number never equals an expression in unknowns (units were removed by clean)."""
    for number, other in ((c.np_, c.g), (c.ng, c.p)):
        if number is None:
            continue
        bound = _bound_letters(other)
        if bound and symbols(other) - bound or not bound and _has_free_symbol(other):
            return False
    return None


def same_base(c: Case) -> bool | None:
    """A numeral in another base (52_8): its digits must match; the base subscript may be left out."""
    base_p, base_g = _BASE_RE.match(c.p), _BASE_RE.match(c.g)
    if not (base_p or base_g):
        return None
    digits_p = base_p.group(1) if base_p else c.p.replace(" ", "")
    digits_g = base_g.group(1) if base_g else c.g.replace(" ", "")
    same_base = not (base_p and base_g) or base_p.group(2) == base_g.group(2)
    return digits_p == digits_g and same_base


def same_infinity(c: Case) -> bool | None:
    """Infinities by sign; an infinity is no finite number."""
    inf_p, inf_g = _INFINITY_RE.match(c.p.replace(" ", "")), _INFINITY_RE.match(c.g.replace(" ", ""))
    if inf_p and inf_g:
        return (inf_p.group(1) == "-") == (inf_g.group(1) == "-")
    if inf_p and c.ng is not None or inf_g and c.np_ is not None:
        return False
    return None


def same_relation_kind(c: Case) -> bool | None:
    """A relation never equals an expression (-x \\geq -1 vs a polynomial, 1+201 = 202 vs 202): sympy compares a
    Relational with an Expr and finds them different; so do we, without it."""
    p, g = c.p, c.g
    if _is_relation(p) and not _RELATION_RE.search(g) or _is_relation(g) and not _RELATION_RE.search(p):
        return False
    return None


def symbols(s: str) -> frozenset[str]:
    """Unknowns named in s: Greek letters and single Latin letters outside command names (not e, i)."""
    greek = {m.group(1) for m in _GREEK_RE.finditer(s)}
    latin = set(_LATIN_RE.findall(_COMMAND_RE.sub(" ", s))) - v.CONSTANT_LETTERS
    return frozenset(greek | latin)


def same_symbols(c: Case) -> bool | None:
    """Different unknowns (x vs t, \\omega vs s): not the same expression. (sympy would agree except on
    identities such as x - x, which answers do not contain.)"""
    return False if symbols(c.p) - _bound_letters(c.p) != symbols(c.g) - _bound_letters(c.g) else None


def same_value(c: Case) -> bool | None:
    """Closed forms, expressions at two random points and relations (sides proportional at three random
    points) by the numeric evaluator; None outside its subset."""
    try:
        if _is_relation(c.p) and _is_relation(c.g):
            return relation_equal(c.p, c.g)
        return numeric_equal(c.p, c.g, float(c.profile.rel_tol), c.profile.tolerate_exact)
    except Unsupported:
        return None


def same_symbolic(c: Case) -> bool:
    """sympy objects built by latex2sympy2_extended (only where the caller allows: a killable worker)."""
    if not c.symbolic:
        raise NeedSymbolic
    from annotate.grader.symbolic import symbolic_equal

    return symbolic_equal(c.p, c.g, c.profile.rel_tol, c.profile.tolerate_exact)


CHECKS: dict[str, Check] = {
    "string": same_string,
    "words": same_words,
    "choice": same_choice,
    "nonexistence": same_nonexistence,
    "number": same_number,
    "decimal_comma": same_decimal_comma,
    "inequality": same_solution_set,
    "structure": same_structure,
    "malformed": well_formed,
    "text": same_words_or_clock,
    "primes": same_primes,
    "kind": same_kind,
    "unknowns": same_unknowns,
    "base": same_base,
    "infinity": same_infinity,
    "relation": same_relation_kind,
    "symbols": same_symbols,
    "numeric": same_value,
    "symbolic": same_symbolic,
}

DEFAULT = Profile(
    "default",
    answer_checks=("string", "words", "choice", "nonexistence"),
    item_checks=("string", "number", "decimal_comma", "inequality", "structure", "malformed", "text", "primes", "kind", "unknowns", "base", "infinity",
                 "relation", "symbols", "numeric", "symbolic"),
)

QWEN = replace(DEFAULT, name="qwen", rel_tol=Fraction(1, 10**4), tolerate_exact=True, percent_scale=True)
PROFILES = {profile.name: profile for profile in (DEFAULT, QWEN)}


def compare(c: Case) -> tuple[bool, str]:
    """(equal, rule): the item checks of the profile, in order, on c's two sides."""
    for name in c.profile.item_checks:
        verdict = CHECKS[name](c)
        if verdict is not None:
            return verdict if isinstance(verdict, tuple) else (verdict, name)
    return False, "structure"


def decide(pred: str, gt: str, symbolic: bool, profile: Profile = DEFAULT) -> tuple[bool, str]:
    """(equal, rule) for two extracted answers; raises NeedSymbolic when `symbolic` is False and it must."""
    case = Case(pred, gt, clean(pred), clean(gt), profile, symbolic)
    for name in profile.answer_checks:
        verdict = CHECKS[name](case)
        if verdict is not None:
            return verdict if isinstance(verdict, tuple) else (verdict, name)
    return compare(case.on(*_sides(case.p, case.g)))
