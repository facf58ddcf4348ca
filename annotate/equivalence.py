"""Answer equivalence: a fast path on normalised strings and exact numbers, then a guarded symbolic path.

`decide(pred, gt, symbolic)` compares two extracted answers. The fast path settles strings, exact
rationals (integers, decimals, fractions, mixed numbers, percents, thousands separators, scientific
notation), multiple-choice letters, and the structure of tuples, intervals, sets, lists, `\\pm` and
matrices, in microseconds and without sympy. An element it cannot settle raises `NeedSymbolic` unless
`symbolic=True`, in which case it is parsed by latex2sympy2_extended (an ANTLR grammar: text becomes
sympy objects; nothing is evaluated as Python) after `check_size` refuses inputs that could blow up.

Numbers compare exactly; a decimal written with a finite number of digits (0.0833333333333333, 4.5e33)
may differ from the other side by a relative 1e-6, so 9999 never equals 10000 and 1.6 equals 1.60.

    python -c "from annotate.equivalence import decide; print(decide(r'\\dfrac{1}{2}', '0.5', False))"
"""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

from annotate.extract import braces_balance
from annotate.numeric import Unsupported, numeric_equal

REL_TOL = Fraction(1, 10**6)
# Size guards: any sympy call is refused above these (the symbolic path is also killed on a timeout).
MAX_SYMBOLIC_CHARS = 1000
MAX_DIGITS = 300
MAX_EXPONENT = 10_000
MAX_FACTORIAL = 1000
MAX_DEPTH = 40


class NeedSymbolic(Exception):
    """The fast path could not settle the comparison; the symbolic path must."""


class TooBig(Exception):
    """An answer exceeds a size guard: it is never handed to sympy."""


# ---------------------------------------------------------------- normalisation

_TEXT_CMD = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf|mathit|mbox|operatorname|textnormal)\s*\{([^{}]*)\}")
_UNIT_WORDS = (
    r"(?:cm|mm|km|m|meters?|metres?|centimeters?|inches|inch|in|feet|foot|ft|yards?|miles?|mi|units?|sq|square|"
    r"cubic|degrees?|deg|radians?|rad|seconds?|sec|s|minutes?|min|hours?|hrs?|h|days?|weeks?|months?|years?|"
    r"dollars?|cents?|pounds?|lbs?|ounces?|oz|grams?|g|kg|liters?|litres?|l|ml|mph|kph|"
    r"students?|people|persons?|ways?|times|points?|pieces?|books?|boxes?|marbles?|cookies?|apples?|coins?)"
)
_TRAILING_UNIT = re.compile(rf"^(.*?[\d}}])\s*(?:{_UNIT_WORDS}(?:\s+{_UNIT_WORDS})*)(?:\^\{{?[23]\}}?|²|³)?\.?$")
_VAR_EQ = re.compile(r"^\s*(?:[A-Za-z]|\\(?:alpha|beta|gamma|theta|phi|varphi|rho|lambda|mu|omega))(?:_\{?\w+\}?)?(?:\([A-Za-z]\))?\s*(?:=(?!=)|\\in(?![A-Za-z]))\s*(.+)$", re.S)
# The left side of "name = value" in a gt: a name, not an expression (no digits outside subscripts,
# no + or -), e.g. k, |AB|, A:B, f(x), (p,q), V_{1}:V_{2}, \frac{NO}{BO}.
_NAME_LHS = re.compile(r"^[^=+\-<>]{1,40}$")
# Spacing commands (not the `\\` row break of a matrix, hence the look-behind).
_SPACES = re.compile(r"(?<!\\)\\[!,;: ]|\\q?quad(?![A-Za-z])|~|\\displaystyle|\\limits")
_TIME_RE = re.compile(
    r"(\d{1,2}:\d{2})\s*(?:\\(?:text|mathrm|mbox|textrm)\s*\{\s*([AaPp])\.?\s*[Mm]\.?\s*\}|([AaPp])\.?\s*[Mm]\.?)(?![A-Za-z])"
)
# A letter in a font command (\mathcal{B}, \textbf{C}): the letter, for multiple-choice answers.
_FONT_LETTER = re.compile(r"^\\(?:math[a-z]*|text[a-z]*|mbox)\s*\{\s*\(?([A-Za-z])\)?\s*\}$")
_SIZE_CMDS = re.compile(r"\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![A-Za-z])")


def _unwrap_boxes(s: str) -> str:
    m = re.fullmatch(r"\\(?:boxed|fbox)\s*\{(.*)\}", s, re.S)
    while m and braces_balance(m.group(1)):
        s = m.group(1).strip()
        m = re.fullmatch(r"\\(?:boxed|fbox)\s*\{(.*)\}", s, re.S)
    return s


@lru_cache(maxsize=65536)
def clean(s: str) -> str:
    """LaTeX with presentation removed: spacing, \\left/\\right, \\dfrac, \\text, units, degrees, $ and %."""
    s = s.strip().strip("$").strip()
    s = _unwrap_boxes(s)
    s = re.sub(r"\\[\[\]()]", "", s) if s.startswith(("\\[", "\\(")) else s
    s = re.sub(r",\\!\s*", ",", s)  # 32,\!349: a thousands separator, not a list
    s = _SPACES.sub(" ", s)
    s = _SIZE_CMDS.sub("", s).replace("\\left.", "").replace("\\right.", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac").replace("\\dbinom", "\\binom")
    s = s.replace("\\tbinom", "\\binom").replace("{,}", ",").replace("\\$", "").replace("\\%", "%")
    s = s.replace("\\le ", "\\leq ").replace("\\ge ", "\\geq ").replace("\\neq", "\\ne")
    s = re.sub(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree", "", s)
    # 4:30 p.m., 4:30\text{ PM}, \text{4:30 p.m.}: a time of day, one spelling.
    s = _TIME_RE.sub(lambda m: f"{m.group(1)}{(m.group(2) or m.group(3)).lower()}m", s)
    s = re.sub(r"(?<=\d)\s*(?:percent(?:age)?|pct)\b", "%", s)
    # \text{ cm} right after a number is a unit; other \text{...} keeps its words.
    s = re.sub(r"(?<=[\d}])\s*\\(?:text|mathrm|mbox|textrm)\s*\{(?!\s*(?:and|or)\s*\})\s*[A-Za-z][A-Za-z\s.^/]*\}(\^\{?[23]\}?)?", "", s)
    prev = None
    while prev != s:
        prev, s = s, _TEXT_CMD.sub(r"\1", s)
    s = re.sub(r"\s+", " ", s).strip()
    # "1 and 2", "(11,7) or (7,11)": words joining answers are list separators.
    if re.search(r"\b(?:and|or)\b", s):
        s = re.sub(r"(?<=\S)\s*(?:,\s*)?\b(?:and|or)\b\s*(?=\S)", ", ", s)
    m = _TRAILING_UNIT.match(s)
    # A bare single letter after a number is as likely an unknown as a unit (6m, \frac{37}{4} m in terms
    # of m): it stays. Units in \text{}/\mathrm{} were removed above.
    if (m and not re.search(r"[a-zA-Z]", re.sub(r"\\[a-zA-Z]+", "", m.group(1)))
            and not re.fullmatch(r"\s*[A-Za-z]\W*", s[m.end(1):].split("^")[0])):
        s = m.group(1).strip()
    return s.rstrip(".").strip()


def key(s: str) -> str:
    """The string form compared for exact equality: `clean` without spaces."""
    return clean(s).replace(" ", "")


# ---------------------------------------------------------------- exact numbers

_DEC = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+"
_NUM_RE = re.compile(
    rf"^(?P<sign>[+-]?)(?P<m>{_DEC})(?:(?:e|E)(?P<e>[+-]?\d+)|(?:\\times|\\cdot|\*|x)10\^(?:\{{(?P<e2>[+-]?\d+)\}}|(?P<e3>\d)))?"
    r"(?P<pct>%)?$", re.ASCII)
_POW10_RE = re.compile(r"^(?P<sign>[+-]?)10\^(?:\{(?P<e>[+-]?\d+)\}|(?P<e1>\d))(?P<pct>%)?$", re.ASCII)
_FRAC_RE = re.compile(r"^(?P<sign>[+-]?)(?P<whole>\d+)?\\frac(?:\{(?P<a>[^{}]+)\}|(?P<a1>\d))(?:\{(?P<b>[^{}]+)\}|(?P<b1>\d))$", re.ASCII)
_SLASH_RE = re.compile(r"^(?P<a>[+-]?[\d.]+)/(?P<b>[+-]?[\d.]+)$", re.ASCII)


class Num:
    """An exact rational read from text; `inexact` when it was written as a rounded decimal."""

    __slots__ = ("value", "inexact", "percent")

    def __init__(self, value: Fraction, inexact: bool, percent: bool = False):
        self.value, self.inexact, self.percent = value, inexact, percent


def _decimal(mantissa: str, exponent: int) -> Num:
    if abs(exponent) > MAX_EXPONENT or len(mantissa) > MAX_DIGITS:
        raise TooBig(mantissa)
    mantissa = mantissa.replace(",", "")
    value = Fraction(mantissa) * Fraction(10) ** exponent
    frac_part = mantissa.partition(".")[2]
    inexact = bool(frac_part.strip("0")) or exponent < 0
    return Num(value, inexact)


_UNITS_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                "sixteen seventeen eighteen nineteen").split()
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORD_NUMBER_RE = re.compile(rf"^(?:({'|'.join(_TENS_WORDS)})(?:[- ]({'|'.join(_UNITS_WORDS[1:10])}))?|({'|'.join(_UNITS_WORDS)}))$")


def _word_number(text: str) -> int | None:
    """0-99 written in words ("seven", "twenty-five"): how a few models state a count."""
    m = _WORD_NUMBER_RE.match(text.strip().lower())
    if not m:
        return None
    if m.group(3):
        return _UNITS_WORDS.index(m.group(3))
    return 10 * (_TENS_WORDS.index(m.group(1)) + 2) + (_UNITS_WORDS.index(m.group(2)) if m.group(2) else 0)


@lru_cache(maxsize=65536)
def to_number(text: str) -> Num | None:
    """The exact value of a plain number written in LaTeX (or 0-99 in words), None if `text` is not one."""
    if text[:1].isalpha():
        word = _word_number(text)
        return Num(Fraction(word), False) if word is not None else None
    if ", " in text:
        # "32, 349" is a list of two numbers; a thousands separator has no space after it.
        return None
    s = text.replace(" ", "")
    if len(s) > MAX_DIGITS + 20:
        return None
    m = _NUM_RE.match(s)
    if m:
        exp = int(m.group("e") or m.group("e2") or m.group("e3") or 0)
        num = _decimal(m.group("m"), exp)
        if m.group("sign") == "-":
            num.value = -num.value
        num.percent = bool(m.group("pct"))
        return num
    m = _POW10_RE.match(s)
    if m:
        num = _decimal("1", int(m.group("e") or m.group("e1")))
        num.value = -num.value if m.group("sign") == "-" else num.value
        num.percent = bool(m.group("pct"))
        return num
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


def numbers_equal(a: Num, b: Num) -> bool:
    """Exact equality; within REL_TOL when either side is a rounded decimal; a percent may mean /100."""
    candidates_a = [a.value] + ([a.value / 100] if a.percent and not b.percent else [])
    candidates_b = [b.value] + ([b.value / 100] if b.percent and not a.percent else [])
    inexact = a.inexact or b.inexact
    for x in candidates_a:
        for y in candidates_b:
            if x == y:
                return True
            if inexact and abs(x - y) <= REL_TOL * max(abs(x), abs(y)):
                return True
    return False


# ---------------------------------------------------------------- structure

_OPEN = "([{"
_CLOSE = ")]}"


def split_top(s: str, sep: str) -> list[str]:
    """Split at `sep` outside brackets and braces (`\\{`/`\\}` count as brackets)."""
    parts, depth, start, i = [], 0, 0, 0
    n, k = len(s), len(sep)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
        elif depth == 0 and s.startswith(sep, i):
            parts.append(s[start:i])
            start = i + k
            i += k
            continue
        i += 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def _enclosed(s: str, left: str, right: str) -> bool:
    """s is left ... right with the left bracket closed only by the last character."""
    if not (s.startswith(left) and s.endswith(right)) or len(s) < len(left) + len(right):
        return False
    inner = s[len(left) : len(s) - len(right)]
    depth = 0
    i = 0
    while i < len(inner):
        if inner[i] == "\\" and i + 1 < len(inner) and inner[i + 1] in "{}":
            depth += 1 if inner[i + 1] == "{" else -1
            i += 2
            continue
        if inner[i] in _OPEN:
            depth += 1
        elif inner[i] in _CLOSE:
            depth -= 1
        if depth < 0:
            return False
        i += 1
    return depth == 0


_MATRIX_RE = re.compile(r"^\\begin\{([pbBvV]?matrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}$", re.S)


def structure(s: str) -> tuple[str, list]:
    """(kind, parts): 'matrix' (rows of cells), 'set', 'union', 'interval' (brackets + items), 'list', 'pm', 'atom'."""
    m = _MATRIX_RE.match(s)
    if m:
        rows = [r for r in re.split(r"\\\\", m.group(2)) if r.strip()]
        return "matrix", [[c.strip() for c in r.split("&")] for r in rows]
    if _enclosed(s, "\\{", "\\}"):
        return "set", split_top(s[2:-2], ",")
    if _enclosed(s, "{", "}") and len(split_top(s[1:-1], ",")) > 1:
        return "set", split_top(s[1:-1], ",")
    unions = split_top(s, "\\cup")
    if len(unions) > 1:
        return "union", unions
    if len(s) >= 2 and s[0] in "([" and s[-1] in ")]":
        items = split_top(s[1:-1], ",")
        if len(items) > 1 and all(items) and (_enclosed(s, s[0], s[-1]) or _enclosed("(" + s[1:-1] + ")", "(", ")")):
            return "interval", [s[0] + s[-1], items]
    items = split_top(s, ",")
    if len(items) > 1 and all(items):
        return "list", items
    if items and items[0].count("\\pm") == 1 or s.startswith("\\pm"):
        left, _, right = s.partition("\\pm")
        left = left.strip() or "0"
        return "pm", [f"{left}+{right}", f"{left}-{right}"]
    if len(s) >= 2 and _enclosed(s, "(", ")") and "," not in s:
        return structure(s[1:-1].strip())
    return "atom", [s]


# ---------------------------------------------------------------- decision

_CHOICE_RE = re.compile(r"^\(?([A-Ea-e])\)?$")
_CHOICE_PRED_RE = re.compile(r"^\(?([A-E])\)(?:\s|$)|^([A-E])$|^\(?([A-E])\)?[.:]?\s")


def _choice(gt: str, pred: str) -> bool | None:
    gt, pred = _FONT_LETTER.sub(r"\1", gt.strip()), _FONT_LETTER.sub(r"\1", pred.strip())
    m = _CHOICE_RE.match(gt)
    if not m:
        return None
    p = _CHOICE_PRED_RE.match(pred.strip())
    if not p:
        return None
    return (p.group(1) or p.group(2) or p.group(3)).upper() == m.group(1).upper()


def _name_value(s: str) -> str | None:
    """The value of "name = value" (one top-level =, a name on the left), None otherwise."""
    parts = split_top(s, "=")
    if len(parts) != 2 or not parts[1]:
        return None
    lhs = re.sub(r"_\{[^{}]*\}|_\w", "", parts[0])
    if not _NAME_LHS.match(lhs) or re.search(r"\d", lhs):
        return None
    return parts[1]


def _strip_var(s: str) -> str:
    m = _VAR_EQ.match(s)
    return m.group(1).strip() if m else s


def _same_words(pred: str, gt: str, p: str, g: str) -> bool:
    """Text answers that differ only in letter case: \\text{No} and \\text{no}, "Yes" and "yes".

    Either side must have been written as text (\\text{}, \\mathrm{}, ...) or the two differ only in the case
    of their first letter (sentence capitalisation); "AB" and "ab" (two segments) stay different.
    """
    if not (_WORDS_RE.match(p) and _WORDS_RE.match(g)) or p.lower() != g.lower():
        return False
    written_as_text = bool(_TEXT_WRITTEN_RE.search(pred) or _TEXT_WRITTEN_RE.search(gt))
    return written_as_text or p[1:] == g[1:]


def _primes(s: str) -> int:
    return s.count("'") + len(re.findall(r"\\prime(?![A-Za-z])", s))


def decide(pred: str, gt: str, symbolic: bool) -> tuple[bool, str]:
    """(equal, rule) for two extracted answers; raises NeedSymbolic when `symbolic` is False and it must."""
    p, g = clean(pred), clean(gt)
    if p.replace(" ", "") == g.replace(" ", ""):
        return True, "string"
    if _same_words(pred, gt, p, g):
        return True, "string"
    choice = _choice(g, p)
    if choice is not None:
        return choice, "choice"
    if "=" not in g:
        # "x \in [-2,7]" on either side is its set.
        p, g = _strip_var(p), _strip_var(g)
    elif "=" not in p and _name_value(g) is not None:
        g = _name_value(g)
    elif "=" in p and p.split("=")[0].strip() == g.split("=")[0].strip() and g.count("=") == 1:
        p, g = p.partition("=")[2].strip(), g.partition("=")[2].strip()
    return _equal(p, g, symbolic)


def _equal(p: str, g: str, symbolic: bool) -> tuple[bool, str]:
    if p.replace(" ", "") == g.replace(" ", ""):
        return True, "string"
    np_, ng = to_number(p), to_number(g)
    if np_ is not None and ng is not None:
        return numbers_equal(np_, ng), "number"
    kp, partsp = structure(p)
    kg, partsg = structure(g)
    if kg == "atom" and kp == "atom":
        return _atom(p, g, np_, ng, symbolic)
    if kg == "matrix" or kp == "matrix":
        if kg != kp or [len(r) for r in partsp] != [len(r) for r in partsg]:
            return False, "structure"
        return _all_equal([c for r in partsp for c in r], [c for r in partsg for c in r], symbolic)
    if kg == "interval" and kp == "interval":
        if partsg[0] != partsp[0] or len(partsg[1]) != len(partsp[1]):
            return False, "structure"
        return _all_equal(partsp[1], partsg[1], symbolic)
    unordered = {"set", "list", "pm", "union"}
    if kg in unordered and kp in unordered | {"interval"} or kp in unordered and kg == "interval":
        items_p = partsp[1] if kp == "interval" else partsp
        items_g = partsg[1] if kg == "interval" else partsg
        if kp == "interval" and kg != "list" or kg == "interval" and kp != "list":
            return False, "structure"
        if kg == "interval":
            # A gt tuple is ordered: "x = 2, y = 1" is not (1, 2).
            if len(items_p) != len(items_g):
                return False, "structure"
            return _all_equal([_strip_var(x) for x in items_p], [_strip_var(x) for x in items_g], symbolic)
        return _same_multiset([_strip_var(x) for x in items_p], [_strip_var(x) for x in items_g], symbolic)
    if symbolic:
        return _atom(p, g, np_, ng, symbolic)
    if (kg == "atom" and _RELATION_RE.search(g)) or (kp == "atom" and _RELATION_RE.search(p)):
        # A bare relation against a collection: only sympy can equate them (x \in [1,2] with [1,2]),
        # unless what settles atoms without sympy (different unknowns) settles it.
        return _atom(p, g, np_, ng, symbolic)
    return False, "structure"


def _all_equal(ps: list[str], gs: list[str], symbolic: bool) -> tuple[bool, str]:
    rule = "string"
    for a, b in zip(ps, gs, strict=True):
        ok, r = _equal(a, b, symbolic)
        if not ok:
            return False, r
        rule = r if r != "string" else rule
    return True, rule


def _same_multiset(ps: list[str], gs: list[str], symbolic: bool) -> tuple[bool, str]:
    """Set equality: every predicted item matches a gt item and every gt item is matched (repeats allowed)."""
    rule = "string"
    matched = [False] * len(gs)
    for a in ps:
        for i, b in enumerate(gs):
            ok, r = _equal(a, b, symbolic)
            if ok:
                rule = r if r != "string" else rule
                matched[i] = True
                break
        else:
            return False, "structure"
    return all(matched), rule if all(matched) else "structure"


_CONSTANT_CMDS = re.compile(
    r"\\(?:d?frac|sqrt|pi|sin|cos|tan|cot|sec|csc|arcsin|arccos|arctan|sinh|cosh|tanh|ln|log|exp|cdot|times|div|"
    r"infty|circ|binom|pm|mp)(?![A-Za-z])"
)


def _has_free_symbol(s: str) -> bool:
    """Whether s names an unknown: a letter other than e and i, or a command that is not a constant/operator."""
    rest = _CONSTANT_CMDS.sub(" ", s)
    return bool(re.search(r"\\[A-Za-z]+|[A-DF-HJ-Za-df-hj-z]", rest))


_BASE_RE = re.compile(r"^(\d+)_\{?(\d+)\}?$", re.ASCII)
_GREEK = re.compile(
    r"\\(alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|vartheta|iota|kappa|lambda|mu|nu|xi|"
    r"rho|sigma|tau|upsilon|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|Lambda|Xi|Sigma|Phi|Psi|Omega|hbar)"
    r"(?![A-Za-z])"
)


def _symbols(s: str) -> frozenset[str]:
    """Unknowns named in s: Greek letters and single Latin letters outside command names (not e, i)."""
    greek = {m.group(1) for m in _GREEK.finditer(s)}
    latin = set(re.findall(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", " ", s))) - {"e", "i"}
    return frozenset(greek | latin)


# An equation or inequality: sympy reads it as a Relational, which never equals a number or expression.
_COMPARISON_RE = re.compile(r"[<>=]|\\(?:le|ge|leq|geq|lt|gt|ne)(?![A-Za-z])")
_INFINITY_RE = re.compile(r"^([+-]?)\\infty$")
_RELATION_RE = re.compile(r"[<>=]|\\(?:le|ge|leq|geq|lt|gt|in|mathbb|emptyset|varnothing|infty|ne)(?![A-Za-z])")
_WORD_RE = re.compile(r"^[A-Za-z][A-Za-z '\-]{3,}$")
_WORDS_RE = re.compile(r"^[A-Za-z][A-Za-z '\-]*[A-Za-z]$")
_TEXT_WRITTEN_RE = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mbox|textnormal)\s*\{")
_CLOCK_RE = re.compile(r"^\d+:\d+$", re.ASCII)


def _atom(p: str, g: str, np_: Num | None, ng: Num | None, symbolic: bool) -> tuple[bool, str]:
    if _WORD_RE.match(p) and _WORD_RE.match(g) or _CLOCK_RE.match(p) and _CLOCK_RE.match(g):
        return p.replace(" ", "").lower() == g.replace(" ", "").lower(), "string"
    if _primes(p) != _primes(g):
        # E' is another point than E, f'(x) another function than f(x).
        return False, "string"
    if _WORD_RE.match(p) and ng is not None or _WORD_RE.match(g) and np_ is not None:
        return False, "string"
    if np_ is not None and _has_free_symbol(g) or ng is not None and _has_free_symbol(p):
        # A plain number never equals an expression in unknowns (units were stripped by clean).
        return False, "number"
    base_p, base_g = _BASE_RE.match(p), _BASE_RE.match(g)
    if base_p or base_g:
        # A numeral in another base (52_8): its digits must match; the base subscript may be left out.
        digits_p = base_p.group(1) if base_p else p.replace(" ", "")
        digits_g = base_g.group(1) if base_g else g.replace(" ", "")
        same_base = not (base_p and base_g) or base_p.group(2) == base_g.group(2)
        return digits_p == digits_g and same_base, "string"
    inf_p, inf_g = _INFINITY_RE.match(p.replace(" ", "")), _INFINITY_RE.match(g.replace(" ", ""))
    if inf_p and inf_g:
        return (inf_p.group(1) == "-") == (inf_g.group(1) == "-"), "number"
    if inf_p and ng is not None or inf_g and np_ is not None:
        return False, "number"
    if _COMPARISON_RE.search(p) and not _RELATION_RE.search(g) or _COMPARISON_RE.search(g) and not _RELATION_RE.search(p):
        # A relation against an expression (-x \geq -1 vs a polynomial, 1+201 = 202 vs 202): sympy compares
        # a Relational with an Expr and finds them different; so do we, without it.
        return False, "structure"
    if _symbols(p) != _symbols(g):
        # Different unknowns (x vs t, \omega vs s): not the same expression. (sympy would agree
        # except on identities such as x - x, which answers do not contain.)
        return False, "symbols"
    try:
        return numeric_equal(p, g), "numeric"
    except Unsupported:
        pass
    if not symbolic:
        raise NeedSymbolic
    from annotate.symbolic import symbolic_equal

    return symbolic_equal(p, g), "symbolic"


def check_size(s: str) -> None:
    """Raise TooBig for text that sympy could choke on: long, deeply nested, huge powers or factorials."""
    if len(s) > MAX_SYMBOLIC_CHARS:
        raise TooBig("length")
    if re.search(rf"\d{{{MAX_DIGITS},}}", s):
        raise TooBig("digits")
    depth = peak = 0
    for c in s:
        if c in "({[":
            depth += 1
            peak = max(peak, depth)
        elif c in ")}]":
            depth -= 1
    if peak > MAX_DEPTH:
        raise TooBig("nesting")
    for m in re.finditer(r"\^\s*(\{(?:[^{}]|\{[^{}]*\})*\}|\d+|[A-Za-z])", s):
        exponent = m.group(1)
        if "^" in exponent and not re.search(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", "", exponent)):
            raise TooBig("power tower")
        if "!" in exponent:
            raise TooBig("factorial exponent")
        for digits in re.findall(r"\d+", exponent):
            if int(digits) > MAX_EXPONENT:
                raise TooBig("exponent")
    for m in re.finditer(r"(\S)\s*!", s):
        before = s[: m.start(1) + 1]
        n = re.search(r"(\d+)$", before)
        if n is not None and int(n.group(1)) > MAX_FACTORIAL or n is None and before[-1] in ")}]":
            raise TooBig("factorial")
