"""Normalisation: an extracted answer with its presentation removed, so that equal answers read alike.

`clean(s)` drops delimiters and boxes, writes plain-text and unicode math as LaTeX (`√3`, `12*pi`,
`x != 3`), drops spacing and bracket sizes, spells commands one way (`\\dfrac` is `\\frac`), removes
degrees, `\\$`, `\\text{}` wrappers and the words after a value (its unit or what it counts: "36 cubes"),
writes a time of day and a percent one way, and turns "and"/"or" between answers into list commas. Its
vocabulary is annotate/grader/vocabulary.py.

    python -c "from annotate.grader.normalize import clean; print(clean(r'\\$\\dfrac{1}{2}\\text{ cm}'))"
"""

from __future__ import annotations

import re
from functools import lru_cache

from annotate.grader import vocabulary as v
from annotate.grader.scan import bracket_end, enclosed, groups_balance, top_level

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{(.*)\}", re.S)
# Spacing (not the `\\` row break of a matrix, hence the look-behind) and bracket sizes.
_SPACES = re.compile(r"(?<!\\)(?:" + "|".join(re.escape(s) for s in v.SPACING_SYMBOLS) + ")|"
                     + v.commands_pattern(v.SPACING_COMMANDS))
_DISPLAY_DELIMS = re.compile(r"\\[\[\]()]")
_THIN_COMMA = re.compile(r",\\!\s*")
_DIGIT_GROUP = re.compile(r"(?<=\d),\\!\s*(?=\d)")
# `,\quadx_{2}=`: a spacing command run into the next name, as in gts whose spaces were stripped.
_GLUED_SPACING = re.compile(r"\\q?quad(?=[A-Za-z])")
_SIZES = re.compile(v.commands_pattern(v.SIZE_COMMANDS) + r"\.?")
_SYNONYMS = re.compile(r"\\(" + "|".join(sorted(v.SYNONYMS, key=len, reverse=True)) + r")(?![A-Za-z])")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree")
_WORD_COMMAND = v.commands_pattern(v.WORD_COMMANDS)
# 4:30 p.m., 4:30\text{ PM}, \text{4:30 p.m.}: a time of day, one spelling.
_TIME = re.compile(
    rf"(\d{{1,2}}:\d{{2}})\s*(?:{_WORD_COMMAND}\s*\{{\s*([AaPp])\.?\s*[Mm]\.?\s*\}}|([AaPp])\.?\s*[Mm]\.?)(?![A-Za-z])"
)
_PERCENT_WORD = re.compile(r"(?<=\d)\s*(?:percent(?:age)?|pct)\b")
# \text{ cm} right after a value is a unit; other \text{...} keeps its words.
_TEXT_UNIT = re.compile(
    rf"(?<=[\d}}])\s*{_WORD_COMMAND}\s*\{{(?!\s*{v.words_pattern(v.JOIN_WORDS)}\s*\}})\s*[A-Za-z][A-Za-z\s.^/]*\}}(\^\{{?[23]\}}?)?"
)
_UNWRAP = re.compile(v.commands_pattern(v.WORD_COMMANDS | v.STYLE_COMMANDS) + r"\s*\{([^{}]*)\}")
_JOIN = re.compile(rf"\b{v.words_pattern(v.JOIN_WORDS)}\b")
_JOIN_SEPARATOR = re.compile(rf"(?<=\S)\s*(?:,\s*)?\b{v.words_pattern(v.JOIN_WORDS)}\b\s*(?=\S)")
# Words after a value: its unit or what it counts ("36 cubes", "2 dozen eggs", "5 \\text{ cm}^2").
_TRAILING_WORDS = re.compile(r"^(.*?[\d}])\s*([A-Za-z][A-Za-z'\-]*\.?(?:\s+[A-Za-z][A-Za-z'\-]*\.?)*)(?:\^\{?[23]\}?|²|³)?\.?$")
_WORD = re.compile(r"[A-Za-z'\-]+")
_UNICODE = re.compile("|".join(re.escape(c) for c in v.UNICODE_MATH))
_UNICODE_ROOT = re.compile(r"√\s*(\d+(?:\.\d+)?|[A-Za-z])")
_ASCII_RELATION = re.compile(r"(?<![\d)!<>=])(?:!=|<=|>=)(?!=)")
# sqrt(2), sin(x), pi, 2^(n+1), 2**10: math written as plain text (or as a program would).
_PLAIN_CALL = re.compile(rf"(?<![\\A-Za-z]){v.words_pattern(v.PLAIN_FUNCTIONS)}\s*(?=\()")
_PLAIN_CONSTANT = re.compile(rf"(?<![\\A-Za-z]){v.words_pattern(v.PLAIN_CONSTANTS)}(?![A-Za-z])")
_POWER_STARS = re.compile(r"(?<=[\w)}])\*\*(?=[\w({-])")
# np.sqrt(2), math.pi: a program's spelling of a function or constant.
_MODULE_PREFIX = re.compile(r"\b(?:np|numpy|math|sympy|sp|cmath)\.(?=[A-Za-z])")
_INNER_DOLLAR = re.compile(r"(?<!\\)\$")
_BRACED_NUMBER = re.compile(r"(?<![\\\w^_}])\{\s*(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*\}")
_TRAILING_SLASH = re.compile(r"\s*/\s*$")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_NAME = re.compile(r"^(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?$")
_BRACED_BY_PARENS = re.compile(r"\\sqrt\s*(?=\()|\^\s*(?=\()")
_COMMANDS = re.compile(r"\\[a-zA-Z]+")
_LETTER = re.compile(r"[a-zA-Z]")


def unwrap_boxes(s: str) -> str:
    """`\\boxed{\\boxed{x}}` -> x: the content of boxes that wrap the whole text."""
    m = _BOX.fullmatch(s)
    while m and groups_balance(m.group(1)):
        s = m.group(1).strip()
        m = _BOX.fullmatch(s)
    return s


def _parens_to_braces(s: str) -> str:
    """`\\sqrt(x+1)` -> `\\sqrt{x+1}`, `2^(n+1)` -> `2^{n+1}`: a parenthesised argument as LaTeX groups it."""
    out, pos = [], 0
    for m in _BRACED_BY_PARENS.finditer(s):
        if m.start() < pos:
            continue
        open_at = m.end()
        close = bracket_end(s, open_at)
        if close is None:
            continue
        out.append(s[pos:open_at] + "{" + s[open_at + 1 : close - 1] + "}")
        pos = close
    return "".join(out) + s[pos:] if out else s


def plain_math(s: str) -> str:
    """Math typed as plain text or unicode, in LaTeX: √3, 12*pi, sqrt(2), 2^(n+1), x != 3, x ≤ 5, 2**10."""
    if not s.isascii():
        s = _UNICODE_ROOT.sub(r"\\sqrt{\1}", s).replace("√", "\\sqrt")
        s = _UNICODE.sub(lambda m: v.UNICODE_MATH[m.group()], s)
    if "=" in s:
        s = _ASCII_RELATION.sub(lambda m: v.ASCII_RELATIONS[m.group()], s)
    if "." in s:
        s = _MODULE_PREFIX.sub("", s)
    if "(" in s:
        s = _PLAIN_CALL.sub(lambda m: "\\" + m.group().strip(), s)
        s = _parens_to_braces(s)
    if "**" in s:
        s = _POWER_STARS.sub("^", s)
    return _PLAIN_CONSTANT.sub(lambda m: v.PLAIN_CONSTANTS[m.group()], s)


def _drop_trailing_words(s: str) -> str:
    """A value followed by words: the value ("36 cubes" -> 36), scaled by a scale word ("1.5 million").

    Kept: a value that holds letters itself (x = 5 m), a lone letter after a value (6m, \\frac{37}{4} m in
    terms of m: as likely an unknown as a unit), and words that belong to the value ("12 pi", "3 mod 5", "4:30pm")."""
    m = _TRAILING_WORDS.match(s)
    if m is None or _LETTER.search(_COMMANDS.sub("", m.group(1))):
        return s
    words = [w.rstrip(".").lower() for w in _WORD.findall(m.group(2))]
    value = m.group(1).strip()
    if words[0] in v.SCALE_WORDS:
        return f"{value}\\times10^{{{v.SCALE_WORDS[words[0]]}}}"
    if len(words) == 1 and len(words[0]) == 1 or any(w in v.VALUE_WORDS for w in words):
        return s
    return value


@lru_cache(maxsize=65536)
def clean(s: str) -> str:
    """LaTeX with presentation removed: spacing, \\left/\\right, \\dfrac, \\text, units, degrees, $ and %."""
    s = s.strip().strip("$").strip()
    s = _unbrace(unwrap_boxes(s))
    if _PLAIN_NUMBER.fullmatch(s):
        return s  # most answers: nothing to remove
    s = _DISPLAY_DELIMS.sub("", s) if s.startswith(("\\[", "\\(")) else s
    if "\\approx" in s:
        s = _approximate(s)
    s = plain_math(s)
    if "$" in s:
        s = _INNER_DOLLAR.sub(" ", s)  # "12 $ and $ 13": math broken into pieces, one answer
    if "\\" in s or "~" in s:
        # 32,\!349 and 56,\!01,\!78,\!95,\!760: a comma with its space taken back separates digit groups
        # (of three or, as Indian grouping writes them, two), never the items of a list.
        s = _DIGIT_GROUP.sub("", s)
        s = _THIN_COMMA.sub(",", s)
        s = _GLUED_SPACING.sub(" ", s)
        s = _SPACES.sub(" ", s)
        s = _SIZES.sub("", s)
        s = _SYNONYMS.sub(lambda m: "\\" + v.SYNONYMS[m.group(1)], s)
        s = s.replace("\\$", "").replace("\\%", "%")
    s = s.replace("{,}", ",")
    if "circ" in s or "°" in s or "degree" in s:
        s = _DEGREES.sub("", s)
    if ":" in s:
        s = _TIME.sub(lambda m: f"{m.group(1)}{(m.group(2) or m.group(3)).lower()}m", s)
    if "p" in s:
        s = _PERCENT_WORD.sub("%", s)
    if "\\" in s:
        s = _TEXT_UNIT.sub("", s)
        prev = None
        while prev != s:
            prev, s = s, _UNWRAP.sub(r"\1", s)
    s = _TRAILING_SLASH.sub("", " ".join(s.split()))  # "9e11 kJ / bomb" with its unit cut: the value
    # "1 and 2", "(11,7) or (7,11)": words joining answers are list separators.
    if _JOIN.search(s):
        s = _JOIN_SEPARATOR.sub(", ", s)
    s = _drop_trailing_words(s).rstrip(".").strip()
    return _BRACED_NUMBER.sub(r"\1", s) if "{" in s else s


def _unbrace(s: str) -> str:
    """Grouping braces around the whole answer mean nothing ({x + 1 = 0}); a set {1, 2} keeps them. (Braces
    around a number that is no argument, `{100}%` or `= {-128}`, go at the end of `clean`; \\frac{1}{2} and
    x^{2} keep theirs.)"""
    while s.startswith("{") and s.endswith("}") and enclosed(s, "{", "}") and not top_level(s[1:-1], ","):
        s = s[1:-1].strip()
    return s


def _approximate(s: str) -> str:
    """`\\frac{\\sqrt{3}}{3} \\approx 0.577` states the exact value; `x \\approx 3.14` the approximation."""
    left, _, right = s.partition("\\approx")
    left, right = left.strip(), right.strip()
    if not right:
        return s
    return right if not left or _NAME.match(left) else left


def key(s: str) -> str:
    """The string form compared for exact equality: `clean` without spaces."""
    return clean(s).replace(" ", "")
