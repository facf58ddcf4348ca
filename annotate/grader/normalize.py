"""Normalisation: an extracted answer with its presentation removed, so that equal answers read alike.

`clean(s)` drops delimiters and boxes, spacing and bracket sizes, spells commands one way (`\\dfrac` is
`\\frac`), removes degrees, `\\$`, units after a value and `\\text{}` wrappers, writes a time of day and
a percent one way, and turns "and"/"or" between answers into list commas. Its vocabulary is
annotate/grader/vocabulary.py.

    python -c "from annotate.grader.normalize import clean; print(clean(r'\\$\\dfrac{1}{2}\\text{ cm}'))"
"""

from __future__ import annotations

import re
from functools import lru_cache

from annotate.grader import vocabulary as v
from annotate.grader.scan import groups_balance

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{(.*)\}", re.S)
# Spacing (not the `\\` row break of a matrix, hence the look-behind) and bracket sizes.
_SPACES = re.compile(r"(?<!\\)(?:" + "|".join(re.escape(s) for s in v.SPACING_SYMBOLS) + ")|"
                     + v.commands_pattern(v.SPACING_COMMANDS))
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
_UNIT = v.words_pattern(v.UNIT_WORDS)
_TRAILING_UNIT = re.compile(rf"^(.*?[\d}}])\s*(?:{_UNIT}(?:\s+{_UNIT})*)(?:\^\{{?[23]\}}?|²|³)?\.?$")
_COMMANDS = re.compile(r"\\[a-zA-Z]+")
_LETTER = re.compile(r"[a-zA-Z]")
_LONE_LETTER = re.compile(r"\s*[A-Za-z]\W*")


def unwrap_boxes(s: str) -> str:
    """`\\boxed{\\boxed{x}}` -> x: the content of boxes that wrap the whole text."""
    m = _BOX.fullmatch(s)
    while m and groups_balance(m.group(1)):
        s = m.group(1).strip()
        m = _BOX.fullmatch(s)
    return s


@lru_cache(maxsize=65536)
def clean(s: str) -> str:
    """LaTeX with presentation removed: spacing, \\left/\\right, \\dfrac, \\text, units, degrees, $ and %."""
    s = s.strip().strip("$").strip()
    s = unwrap_boxes(s)
    s = re.sub(r"\\[\[\]()]", "", s) if s.startswith(("\\[", "\\(")) else s
    s = re.sub(r",\\!\s*", ",", s)  # 32,\!349: a thousands separator, not a list
    s = _SPACES.sub(" ", s)
    s = _SIZES.sub("", s)
    s = _SYNONYMS.sub(lambda m: "\\" + v.SYNONYMS[m.group(1)], s)
    s = s.replace("{,}", ",").replace("\\$", "").replace("\\%", "%")
    s = _DEGREES.sub("", s)
    s = _TIME.sub(lambda m: f"{m.group(1)}{(m.group(2) or m.group(3)).lower()}m", s)
    s = _PERCENT_WORD.sub("%", s)
    s = _TEXT_UNIT.sub("", s)
    prev = None
    while prev != s:
        prev, s = s, _UNWRAP.sub(r"\1", s)
    s = " ".join(s.split())
    # "1 and 2", "(11,7) or (7,11)": words joining answers are list separators.
    if _JOIN.search(s):
        s = _JOIN_SEPARATOR.sub(", ", s)
    m = _TRAILING_UNIT.match(s)
    # A bare single letter after a number is as likely an unknown as a unit (6m, \frac{37}{4} m in terms
    # of m): it stays. Units in \text{}/\mathrm{} were removed above.
    if (m and not _LETTER.search(_COMMANDS.sub("", m.group(1)))
            and not _LONE_LETTER.fullmatch(s[m.end(1):].split("^")[0])):
        s = m.group(1).strip()
    return s.rstrip(".").strip()


def key(s: str) -> str:
    """The string form compared for exact equality: `clean` without spaces."""
    return clean(s).replace(" ", "")
