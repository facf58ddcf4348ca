"""Math in prose: the math expressions of a text ($...$, \\(...\\), \\[...\\], $$...$$, align rows), the value an
expression states (`x = 5` gives 5), lists joined by "and"/"or", plain-text values (2√3, 2^99, 3,834), and
dollar signs of money told from math delimiters.

    python -c "from annotate.grader.mathtext import math_segments; print(math_segments(r'so \\(x = 5\\) and \\(y\\)'))"
"""

from __future__ import annotations

import re
from functools import lru_cache

from annotate.grader import vocabulary as v
from annotate.grader.scan import top_level

DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
# Every alternative opens with a literal "$" or "\\" (an inline "$" checks what stands before it once taken):
# the regex engine then skips plain text by a scan for those two characters, faster than a look-ahead tried at
# each position. Inline math runs to the first "$" not escaped, read as runs of other characters and escaped
# dollars (a run is one step of the engine, where a lazy repeat of characters is one per character). The groups
# hold the math; an environment's is the whole match.
MATH_RE = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$(?<![\\$]\$)(?!\$)([^$]+(?:(?<=\\)\$[^$]*)*)(?<!\\)\$"
    r"|\\begin\{(?:align|equation|gather|eqnarray)\*?\}.+?\\end\{(?:align|equation|gather|eqnarray)\*?\}",
    re.S,
)
INLINE_MATH_RE = re.compile(r"\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]", re.S)
# A display environment of aligned rows: its last row states the result.
_ROWS_RE = re.compile(r"^\\begin\{(align|aligned|equation|gather|eqnarray|split)\*?\}(.*)\\end\{\1\*?\}$", re.S)
_ROW_SPLIT_RE = re.compile(r"\\\\(?:\[[^\]]*\])?")
_ROW_LABEL_RE = re.compile(r"\\(?:nonumber|notag)\b|\\(?:label|tag)\{[^{}]*\}")
# A value in plain text: a time of day (4:30 p.m.), or a number (thousands separators, a decimal, a
# fraction a/b) with what plain text writes after it: 2√3, 12π, 2^99, 2^{10}, 5!.
_NUMBER = r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+(?:\.\d+)?)?"
NUMBER_RE = re.compile(
    # (the look-ahead: a value starts with a digit, a minus sign or √, so other places are passed over at once)
    r"(?=[-\d√])(?<![\w^_.\\:{])(?:\d{1,2}:\d{2}(?:\s*[AaPp]\.?\s*[Mm]\b\.?)?"
    rf"|(?:{_NUMBER}|√\s*\d+(?:\.\d+)?)(?:\s*[*×·]?\s*(?:√\s*\d+|π|\\pi\b)|\^\{{?-?\d+\}}?|!)*)(?![\w.:]\d)"
)
# A word of three lower-case letters or more (\b[a-z]{3,}\b), its first letter taken before the look-behind so
# that the engine skips to letters by a scan.
_PROSE_WORD_RE = re.compile(r"[a-z](?<!\w[a-z])[a-z]{2,}(?!\w)")
# A dollar sign before a digit (one not escaped and not part of `$$` is checked by the caller): the scan
# looks for "$" alone, which is fast.
_MONEY_HINT_RE = re.compile(r"\$\d")
# LaTeX commands, with the argument of those whose argument is a name or words (environments, text).
COMMAND_WITH_NAME = re.compile(rf"\\{v.words_pattern(v.WORD_COMMANDS | {'begin', 'end'})}\s*\{{[^{{}}]*\}}|\\[A-Za-z]+")
_COMMAND_ARG_RE = re.compile(r"\\[A-Za-z]+(?:\s*\{[^{}]*\})?")
_TWO_LETTERS_RE = re.compile(r"[A-Za-z]{2,}")
NAME_RE = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?(?:'|\^\{?\\prime\}?)?\s*$")
_SIMPLE_LHS_RE = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?(?:\([^()=]{0,20}\))?\s*$")
JOIN_GAP_RE = re.compile(rf"\s*(?:,|,?\s*{v.words_pattern(v.JOIN_WORDS)})\s*")
_APPROX_RE = re.compile(r"\\approx|≈")
_EQUIV_RE = re.compile(r"\\equiv(?![A-Za-z])")
_MOD_RE = re.compile(r"\\p?mod\s*\{?\s*\w+\s*\}?\s*\)?\s*$")
_PROSE_HINT_RE = re.compile(r"\d|[=^\\]")
# A closing `$` / `$$` that is not an escaped dollar sign.
_UNESCAPED = {right: re.compile(r"(?<!\\)" + re.escape(right)) for left, right in DELIMS if right.startswith("$")}


def strip_delimiters(s: str) -> str:
    """Remove math delimiters wrapped around the whole answer ($..$, \\(..\\), \\[..\\])."""
    s = s.strip()
    changed = True
    while changed:
        changed = False
        for left, right in DELIMS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s = s[len(left) : len(s) - len(right)].strip()
                changed = True
    return s


def find_close(text: str, right: str) -> int:
    """Index of the first `right` in text that is not an escaped dollar (`\\$` is a literal dollar sign)."""
    if not right.startswith("$"):
        return text.find(right)
    pattern = _UNESCAPED.get(right) or re.compile(r"(?<!\\)" + re.escape(right))
    m = pattern.search(text)
    return m.start() if m else -1


@lru_cache(maxsize=256)
def math_segments(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of each math expression in text, in order (remembered: the finders ask for the
    segments of one closing text several times)."""
    return [(m.start(), m.end(), _last_row(m.group(m.lastindex or 0).strip())) for m in MATH_RE.finditer(text)]


def _last_row(math: str) -> str:
    """The last row of an align/equation/gather environment (alignment marks removed); other math as is."""
    m = _ROWS_RE.match(math)
    if m is None:
        return math
    rows = [r for r in _ROW_SPLIT_RE.split(m.group(2)) if r.strip()]
    row = _ROW_LABEL_RE.sub("", rows[-1] if rows else "")
    return row.replace("&", "").strip()


def value_of(expr: str) -> str:
    """The value an expression states: before any \\approx, the right-hand side of the last top-level = (or
    \\equiv, without its \\pmod{n}); trailing punctuation dropped."""
    parts = _APPROX_RE.split(expr)
    # "x \\approx 3.14" states 3.14; "\\frac{22}{7} \\approx 3.14" states the exact value before it.
    expr = parts[1] if len(parts) == 2 and (not parts[0].strip() or NAME_RE.match(parts[0])) else parts[0]
    expr = expr.strip().rstrip(".,;").strip()
    if "\\equiv" in expr:
        expr = _EQUIV_RE.sub("=", _MOD_RE.sub("", expr)).strip()
        expr = expr.removesuffix("(").strip()
    if "=" not in expr:
        return expr
    cuts = [i for i in top_level(expr, "=") if i == 0 or expr[i - 1] not in "<>\\"]
    value = expr[cuts[-1] + 1 :].strip() if cuts else expr
    return value or expr


def joined_values(text: str, segments: list[tuple[int, int, str]]) -> str | None:
    """The values of the trailing run of expressions joined only by ",", "and", "or": "2, 3"."""
    run = [segments[-1]]
    for prev in reversed(segments[:-1]):
        if not JOIN_GAP_RE.fullmatch(text[prev[1] : run[0][0]]):
            break
        run.insert(0, prev)
    if len(run) < 2:
        return None
    lhs = {s.partition("=")[0].strip() for _, _, s in run if "=" in s}
    if len(lhs) > 1 or any(not _SIMPLE_LHS_RE.match(x) for x in lhs):
        return None  # "$3 \cdot 4 = 12$ and $12 + 5 = 17$": steps of a computation, not a list of answers
    return ", ".join(value_of(s) for _, _, s in run)


def leading_list(text: str) -> str | None:
    """The values of the expressions text opens with when several are joined by ",", "and", "or"."""
    if text.count("$") < 4 and "\\(" not in text and "\\[" not in text and "\\begin" not in text:
        return None  # fewer delimiters than two expressions take
    segments = math_segments(text)
    if not segments or segments[0][0] != 0:
        return None
    k = 1
    while k < len(segments) and JOIN_GAP_RE.fullmatch(text[segments[k - 1][1] : segments[k][0]]):
        k += 1
    return joined_values(text[: segments[k - 1][1]], segments[:k]) if k > 1 else None


def word_count(s: str) -> int:
    """Words of two or more letters outside math and LaTeX commands."""
    plain = INLINE_MATH_RE.sub(" ", s)
    return len(_TWO_LETTERS_RE.findall(COMMAND_WITH_NAME.sub(" ", plain)))


def is_prose(s: str) -> bool:
    """Words rather than an answer: more than a few words outside LaTeX commands and \\text{}."""
    words = _TWO_LETTERS_RE.findall(_COMMAND_ARG_RE.sub(" ", s))
    return len(words) > 8 or len(words) > 4 and not _PROSE_HINT_RE.search(s)


def mask_currency(text: str, start: int = 0) -> str:
    """text with each dollar sign that marks money rather than math replaced by a space: "$18 a day",
    "9 * $2 = $18", "costs $5 and $x$ is 3". A `$` before a digit that would open math is money when no `$`
    closes it, when the `$` that would close it opens another amount ("$2 = $18"), or when what it would
    enclose reads as prose or ends in a space. Dollars before `start` are left as they are: `start` must be
    where no math is open (a paragraph break)."""
    money: list[int] = []
    dollars, counted = 0, start
    escaped = "\\$" in text
    for hint in _MONEY_HINT_RE.finditer(text, start):
        at = hint.start()
        if at > 0 and text[at - 1] in "\\$":
            continue
        # An even count of dollars before it (`$$` counts twice; money found so far does not) opens math.
        dollars += text.count("$", counted, at) - (text.count("\\$", counted, at) if escaped else 0)
        counted = at
        if (dollars - len(money)) % 2:
            continue
        close = _next_dollar(text, at + 1)
        # (what it would enclose is cut out only where two words fit in it: most math is shorter)
        if (close < 0 or text[close + 1 : close + 2].isdigit() or text[close - 1].isspace()
                or close - at > _TWO_WORDS_CHARS and _two_prose_words(text[at + 1 : close])):
            money.append(at)
    if not money:
        return text
    chars = list(text)
    for at in money:
        chars[at] = " "
    return "".join(chars)


# Two words of three letters and a space between them: the shortest text that holds two words of prose.
_TWO_WORDS_CHARS = 7


def _two_prose_words(content: str) -> bool:
    """Whether two words of prose stand in `content` outside LaTeX commands and their arguments."""
    if len(content) < _TWO_WORDS_CHARS:
        return False
    if "\\" in content:
        content = _COMMAND_ARG_RE.sub(" ", content)
    first = _PROSE_WORD_RE.search(content)
    return first is not None and _PROSE_WORD_RE.search(content, first.end()) is not None


def _next_dollar(text: str, start: int) -> int:
    """Index of the next `$` that is not escaped, -1 if none."""
    at = text.find("$", start)
    while at > 0 and text[at - 1] == "\\":
        at = text.find("$", at + 1)
    return at
