"""Final-answer extraction: one ordered table of named finders, walked until one finds the answer.

`extract(response)` returns an `Extraction(answer, rule, boxed)`; `rule` names the form that gave the
answer, so labeling and evaluation can count verdicts per form. `FINDERS` is the order of precedence:

1. ``final_after_box``: an explicit "final answer" statement (rule 4's ``minerva``, ``final_answer_is``
   or a "Final Answer:" line) written after the last box overrides it: the box held an intermediate.
2. ``boxed_unclosed``: a `\\boxed{` left open at the very end of the response, after any closed box,
   when what follows it is short and its own braces balance (`\\boxed{\\frac{1` is a cut answer: no).
3. ``boxed``: the content of the last well-formed `\\boxed{...}` / `\\fbox{...}` (balanced braces,
   `\\{`/`\\}` escapes skipped; also `\\boxed 5`); boxes of one closing line joined only by commas
   or "and" are one answer ("1, 2, 3").
4. ``statement``: the answer statement written LAST in the response's tail (two different final
   statements: the later one is the answer), recorded under its own rule:
   - ``minerva``: "Final Answer: The final answer is X. I hope it is correct.";
   - ``final_answer_is``: "the final answer is X", "final answer: X", "the final result is X";
   - ``answer_is``: "the answer is X", "the answer to the question is X", "the answers are X",
     "the correct option is X", "答案是 X";
   - ``gsm8k_hash``: a line `#### X` where X is a number or a short formula (not a markdown heading);
   - ``answer_line``: "Answer: X" / "A: X" / "**Final Answer:** X" on one of the last lines, or a
     "Final Answer" heading line followed by X;
   - ``prm800k``: a `# Answer` line followed by X.
   X is the math right after the phrase (`$...$`, `\\(...\\)`, `\\[...\\]`, `$$...$$`, a box; "$1$, $2$ and $3$"
   is a list), else the value the words open with ("36 cubes", "45 - 21 = 24", "2^99 trees with 100
   nodes"), else, for a sentence ("The largest $n$ is 34."), the value the sentence states. A statement
   whose X is a verdict rather than an answer ("the answer is not 5", "the answer is correct", "the answer
   is as follows") or prose is passed over, and so is a hypothesis ("check if the answer is 5"); "Answer
   is X" opening a line or a sentence counts.
5. ``no_value``: a final sentence saying there is no value ("so the limit does not exist", "f(2) is
   undefined", "there is no solution") gives that as the answer.
6. ``bold``: the last `**X**` in the closing sentence, X short (a number, a formula or a few words);
   a bold sentence gives the value it ends on.
7. ``program_output``: the last line of the last ```` ```output ```` block, when no number or math
   is written after the block (a count in words written after it, "Three trucks will be needed", wins).
8. ``last_math``: the last math expression (`$...$`, `\\(...\\)`, `\\[...\\]`, `$$...$$`, the last
   row of an align/equation environment) of the closing text; `name = value` gives the value (the
   right-hand side of the last `=` or `\\equiv`, before any `\\approx`), "$x = 2$ and $x = 3$" gives
   "2, 3", and a bare name ("the value of $x$") yields to an earlier expression that holds a value.
9. ``last_number``: the last value of the closing text (the Qwen2.5-Math harness's fallback; a value in
   plain text such as 2√3, 12π or 2^99 included). In rules 8 and 9, a value that counts the thing named
   after it in a phrase setting a condition ("2^99 trees with 100 nodes", "each of the 4 friends") yields
   to the value the sentence states.

The closing text is the last paragraph of the response that holds a digit or math (code blocks
removed; up to two trailing paragraphs of pleasantries are stepped over; sentences with a negation,
"x cannot be 5", dropped). Rules 5-9 find nothing when that text is a question ("... ?") or restates
the task ("Find ...", "Problem: ..."), or when the response stops mid-sentence or mid-formula ("... and
then we multiply by"). Before anything, a chat template's next turn (`<|im_start|>`, `<|im_end|>`) and a
base model's continuation (a "Question:" / "Problem:" / "Human:" line written after an answer) are cut
off, and a dollar sign that marks money ("$18 a day", "9 * $2 = $18") is told from a math delimiter.
Every search looks at a bounded tail of the response, so extraction is linear in a bounded length. The
words the finders look for are data in annotate/grader/vocabulary.py; brackets are matched by
annotate/grader/scan.py.

Ground truths go through `extract_gt`: a `\\boxed{}` inside is taken, then surrounding `$`, `\\(...\\)`,
`\\[...\\]` are removed, so gts and predictions are normalised alike; a gt written as several math
expressions ("$x=1$, $y=2$") is their list. `boxes` lists every box, for a question answered in parts.

    python -c "from annotate.grader import extract; print(extract(r'Therefore $x \\gt 5$ is the solution.'))"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from annotate.grader import vocabulary as v
from annotate.grader.numbers import word_number
from annotate.grader.scan import group_end, groups_balance, top_level

STATEMENT_RULES = ("minerva", "final_answer_is", "answer_is", "gsm8k_hash", "answer_line", "prm800k")
# The rules an Extraction can name, in order of precedence; "none" is recorded when no rule finds an answer.
RULES = ("boxed", "boxed_unclosed", *STATEMENT_RULES, "no_value", "bold", "program_output", "last_math", "last_number")
# Rules that read an answer the response never marks as final: on a response cut by the token limit
# they would read an intermediate result, so callers that know of the cut refuse their answers.
IMPLICIT_RULES = ("boxed_unclosed", "no_value", "bold", "program_output", "last_math", "last_number")
# Statements that say the answer is final: one written after the last box overrides the box.
_FINAL_RULES = ("minerva", "final_answer_is")

# Statements are looked for in this tail of the response; the closing text in this (shorter) one.
_TAIL_CHARS = 4000
_CLOSING_CHARS = 1500
# An unclosed box longer than this at the end is a cut expression, not an answer.
_MAX_UNCLOSED = 200
# How many unbalanced (truncated) boxes to step back over before giving up on the boxed form.
_MAX_BOX_TRIES = 8

_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BOX_TOKEN_RE = re.compile(r"[^\s$]+")
_MINERVA_RE = re.compile(r"final\s+answer\s+is\s*:?\s*(.{1,400}?)\s*\.?\s*I\s+hope\s+it\s+is\s+correct", re.I | re.S)
# Answer phrases, found at their keyword (answer, result, option, choice, 答案): (rule, what must come right
# before the keyword, what must follow from it). Anchoring each phrase at its keyword lets one pass of a
# keyword search replace case-insensitive scans of the whole tail, which cost more than the rest of extraction.
_FOLLOW = r"(?:\s+(?:to|for|of)\b[^.\n$]{0,80}?)?\s*"
_PHRASES = (
    ("final_answer_is", re.compile(r"\bfinal\s+$", re.I),
     re.compile(rf"(?:answer|result)s?{_FOLLOW}(?:is|are|was|would\s+be|:|=)\s*:?", re.I)),
    ("answer_is", re.compile(r"\b(?:the|my|our|correct|so|thus|hence|therefore,?)\s+$", re.I),
     re.compile(rf"answers?(?:\s+choice)?{_FOLLOW}(?:is|are|would\s+be|=)\s*:?", re.I)),
    ("answer_is", re.compile(r"\bcorrect\s+$", re.I), re.compile(rf"(?:option|choice){_FOLLOW}(?:is|are|would\s+be|=)\s*:?", re.I)),
    ("answer_is", re.compile(r"(?:最终)?$"), re.compile(r"答案(?:是|为)\s*[:：]?")),
    # "Answer is X" opening a line or a sentence (a step of a worked answer): no article before it.
    ("answer_is", re.compile(r"(?:^|\n|[:.!?]\s)[ \t*_#>]*$"), re.compile(r"answer\s+(?:is|=)\s*:?", re.I)),
)
# "check if the answer is 5": a hypothesis, not a statement.
_CONDITIONAL_RE = re.compile(r"\b(?:if|whether)\s+$", re.I)
_KEYWORD_RE = re.compile(r"[Aa]nswer|ANSWER|[Rr]esult|[Oo]ption|[Cc]hoice|答案")
_CONTINUATION_RE = re.compile(rf"\n[ \t]*{v.words_pattern(v.CONTINUATION_LABELS)}[ \t]*[:：]")
_CHAT_TOKEN_RE = re.compile("|".join(re.escape(t) for t in v.CHAT_TOKENS))
# A response that stops mid-sentence or mid-formula: what it ends on is not a final answer.
_DANGLING_WORDS = frozenset(v.DANGLING_WORDS)
_DANGLING_COMMANDS = frozenset(v.DANGLING_COMMANDS)
_DANGLING_MARKS = tuple("+-/=,:([{^&")
_LAST_WORD_RE = re.compile(r"(\\?)([A-Za-z]+)$")
_HASH_RE = re.compile(r"^[ \t]*####[ \t]*(\S[^\n]*?)[ \t]*$", re.M)
_ANSWER_LINE_RE = re.compile(r"^[\s#>*_]*(?:(?i:final\s+answer|answer)|A)[\s*_]*[:：][\s*_]*(\S.*)$")
_HEADING_RE = re.compile(r"^[ \t]*(#*)[ \t*_]*((?i:final\s+answer|answer))[ \t*_:]*$", re.M)
_PARAGRAPH_BREAK_RE = re.compile(r"\n\s*\n")
_OUTPUT_RE = re.compile(r"```output[ \t]*\n(.*?)```", re.S)
_CODE_RE = re.compile(r"```.*?(?:```|$)", re.S)
_BOLD_RE = re.compile(r"\*\*(?!\s)([^*\n]{1,120}?)(?<!\s)\*\*")
_MATH_RE = re.compile(
    # (the look-ahead lets the scan pass over plain text without trying each alternative)
    r"(?=[$\\])(?:\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$(?!\$)((?:\\\$|[^$])+?)(?<!\\)\$"
    r"|(\\begin\{(?:align|equation|gather|eqnarray)\*?\}.+?\\end\{(?:align|equation|gather|eqnarray)\*?\}))",
    re.S,
)
_INLINE_MATH_RE = re.compile(r"(?=[$\\])(?:\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\])", re.S)
_HAS_MATH_RE = re.compile(r"\d|\$|\\\(|\\\[")
# A display environment of aligned rows: its last row states the result.
_ROWS_RE = re.compile(r"^\\begin\{(align|aligned|equation|gather|eqnarray|split)\*?\}(.*)\\end\{\1\*?\}$", re.S)
_ROW_SPLIT_RE = re.compile(r"\\\\(?:\[[^\]]*\])?")
_ROW_LABEL_RE = re.compile(r"\\(?:nonumber|notag)\b|\\(?:label|tag)\{[^{}]*\}")
# A value in plain text: a time of day (4:30 p.m.), or a number (thousands separators, a decimal, a
# fraction a/b) with what plain text writes after it: 2√3, 12π, 2^99, 2^{10}, 5!.
_NUMBER = r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+(?:\.\d+)?)?"
_NUMBER_RE = re.compile(
    r"(?<![\w^_.\\:{])(?:\d{1,2}:\d{2}(?:\s*[AaPp]\.?\s*[Mm]\b\.?)?"
    rf"|(?:{_NUMBER}|√\s*\d+(?:\.\d+)?)(?:\s*[*×·]?\s*(?:√\s*\d+|π|\\pi\b)|\^\{{?-?\d+\}}?|!)*)(?![\w.:]\d)"
)
_COUNT_BEFORE_RE = re.compile(
    rf"\b(?:{v.words_pattern(v.COUNT_PREPOSITIONS)}\s+(?:[A-Za-z]+\s+)?|to\s+[A-Za-z]+\s+)$", re.I
)
_RESULT_OF_RE = re.compile(rf"\b{v.words_pattern(v.RESULT_NOUNS)}\s+of\s+$", re.I)
_COUNTED_AFTER_RE = re.compile(r"\s+([a-z]{2,})\b")
_LINKING = frozenset(v.LINKING_WORDS)
_PROSE_WORD_RE = re.compile(r"\b[a-z]{3,}\b")
_NUMBER_WORD_RE = re.compile(
    rf"\b(?:({v.words_pattern(v.PRONOUN_ONE)})\s+)?((?:{v.words_pattern(v.TENS_WORDS)}(?:[- ]{v.words_pattern(v.NUMBER_WORDS[1:10])})?"
    rf"|{v.words_pattern(v.NUMBER_WORDS)}))\b",
    re.I,
)
_NO_VALUE_RE = re.compile(rf"\b({v.words_pattern(v.NO_VALUE_PHRASES)})[\s.!*$]*$", re.I)
_HEDGE_RE = re.compile(rf"^(?:{v.words_pattern(v.HEDGE_WORDS)})\b\s*:?\s*", re.I)
# The words of an answer's tail that end its value: a word of two letters or more that is not math.
_LEAD_TOKEN_RE = re.compile(r"\\[A-Za-z]+|[{}]|[A-Za-z]{2,}")
_VALUE_HINT_RE = re.compile(r"\d|\\(?!text|mbox|mathrm)[A-Za-z]")
_MONEY_HINT_RE = re.compile(r"(?<![\\$])\$\d")
# A verdict, a promise of an answer to come, or an answer not yet known, rather than an answer.
_NOT_AN_ANSWER_RE = re.compile(rf"^{v.words_pattern(v.VERDICT_WORDS)}(?!\w)", re.I)
# A closing sentence that asks or sets the problem rather than answering it.
_QUESTION_START_RE = re.compile(rf"^\W*{v.words_pattern(v.TASK_WORDS)}\b", re.I)
# LaTeX commands, with the argument of those whose argument is a name or words (environments, text).
_COMMAND_WITH_NAME = re.compile(rf"\\{v.words_pattern(v.WORD_COMMANDS | {'begin', 'end'})}\s*\{{[^{{}}]*\}}|\\[A-Za-z]+")
_COMMAND_ARG_RE = re.compile(r"\\[A-Za-z]+(?:\s*\{[^{}]*\})?")
_TWO_LETTERS_RE = re.compile(r"[A-Za-z]{2,}")
_PROBLEM_LABEL_RE = re.compile(rf"^\W*{v.words_pattern(v.PROBLEM_LABELS)}\s*\d*\s*[:.]", re.I)
_RESULT_RE = re.compile(rf"\b{v.words_pattern(v.RESULT_WORDS)}\b|=\s*-?\d[\d,.]*\W*$", re.I)
_CHECK_RE = re.compile(rf"^\W*{v.words_pattern(v.CHECK_OPENERS)}\b", re.I)
_LABEL_RE = re.compile(rf"^{v.words_pattern(v.LABEL_WORDS)}\b(?:\s*\d+)?\W*$", re.I)
_NEGATION_RE = re.compile(rf"\b{v.words_pattern(v.NEGATION_WORDS)}\b|n't\b|\\neq?(?![A-Za-z])|≠", re.I)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z*$\\])")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")
_BOLD_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z*])")
# A clause that justifies the answer stated before it: "x = 3, since $3^2 = 9$", "..., where $r = 6$".
# Lower case only: a sentence that opens with "Since ..." states its answer after the clause.
_JUSTIFICATION_RE = re.compile(rf",?\s+{v.words_pattern(v.JUSTIFICATION_WORDS)}\b")
# A number that labels a part of the solution rather than stating a value: "step 2", "part (b) 3".
_ORDINAL_CONTEXT_RE = re.compile(rf"\b{v.words_pattern(v.ORDINAL_WORDS)}\s*\(?$", re.I)
_NAME_RE = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?(?:'|\^\{?\\prime\}?)?\s*$")
_SIMPLE_LHS_RE = re.compile(r"^\s*(?:[A-Za-z]|\\[A-Za-z]+)(?:_\{?\w+\}?)?(?:\([^()=]{0,20}\))?\s*$")
_JOIN_GAP_RE = re.compile(rf"\s*(?:,|,?\s*{v.words_pattern(v.JOIN_WORDS)})\s*")
_BOX_GAP_RE = re.compile(rf"{v.commands_pattern(v.WORD_COMMANDS)}\s*\{{\s*({v.words_pattern(v.JOIN_WORDS)})\s*\}}|\\q?quad|\\[,;]|\$|\\boxed\s*\{{?$")
_BOX_GAP_END_RE = re.compile(r"\\boxed\s*$|\\fbox\s*$")
_BOX_GAP_OK_RE = re.compile(r"(?:,|and|,\s*and)?", re.I)
_APPROX_RE = re.compile(r"\\approx|≈")
_EQUIV_RE = re.compile(r"\\equiv(?![A-Za-z])")
_MOD_RE = re.compile(r"\\p?mod\s*\{?\s*\w+\s*\}?\s*\)?\s*$")
_UNCLOSED_END_RE = re.compile(r"(?:\$+|\\\]|\\\)|\.)\s*$")
_SENTENCE_RE = re.compile(r"(.+?)(?:\.(?=\s|$|\*)|。|\n|$)", re.S)
_LETTER_START_RE = re.compile(r"[A-Za-z]")
_PROSE_HINT_RE = re.compile(r"\d|[=^\\]")


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # the final answer read from the response (None: no rule found one)
    rule: str  # the rule that read it (one of RULES), "none" when none did
    boxed: bool  # the response has a closed \boxed{...} / \fbox{...}


# ---------------------------------------------------------------- boxes

def last_boxed(text: str) -> str | None:
    """Content of the last well-formed \\boxed{}/\\fbox{} (or `\\boxed 5`), None if there is none."""
    found = last_boxed_span(text)
    return found[0] if found else None


def _box_starts_backwards(text: str):
    """End indices of `\\boxed` / `\\fbox` commands in text, the last first."""
    end = len(text)
    while True:
        at = max(text.rfind("\\boxed", 0, end), text.rfind("\\fbox", 0, end))
        if at < 0:
            return
        m = _BOX_RE.match(text, at)
        if m is not None:
            yield m.end()
        end = at


def last_boxed_span(text: str) -> tuple[str, int] | None:
    """(content, end index) of the last well-formed box."""
    for tries, pos in enumerate(_box_starts_backwards(text)):
        if tries >= _MAX_BOX_TRIES:
            break
        j = pos
        while j < len(text) and text[j] in " \t":
            j += 1
        if j < len(text) and text[j] == "{":
            end = group_end(text, j)
            if end is not None:
                return text[j + 1 : end - 1].strip(), end
        elif j > pos:
            m = _BOX_TOKEN_RE.match(text, j)
            if m:
                return m.group(0).rstrip(".,;"), m.end()
    return None


def _joined_boxes(text: str, content: str, end: int) -> str:
    """`\\boxed{1} and \\boxed{2}` at the end: the boxes of one final line joined only by commas and "and"
    are one answer, "1, 2"."""
    contents = [content]
    line_start = text.rfind("\n", 0, end - len(content)) + 1
    starts = list(_BOX_RE.finditer(text, line_start, end))[:-1]
    cursor = end - len(content) - 1
    for m in reversed(starts):
        j = m.end()
        while j < len(text) and text[j] in " \t":
            j += 1
        close = group_end(text, j) if j < len(text) and text[j] == "{" else None
        if close is None or close > cursor:
            break
        gap = _BOX_GAP_RE.sub(" \\1 ", text[close:cursor])
        gap = _BOX_GAP_END_RE.sub("", gap.strip()).strip()
        # "or" between boxes offers the same answer twice (15\frac{39}{40}, or \frac{639}{40}): not a list.
        if not _BOX_GAP_OK_RE.fullmatch(gap.strip()):
            break
        contents.insert(0, text[j + 1 : close - 1].strip())
        cursor = m.start()
    return ", ".join(contents) if len(contents) > 1 else content


def _unclosed_box(text: str) -> str | None:
    """The content of a `\\boxed{` left open at the end of text, if it is whole."""
    starts = [m.end() for m in _BOX_RE.finditer(text, max(0, len(text) - _MAX_UNCLOSED - 16))]
    if not starts:
        return None
    j = starts[-1]
    while j < len(text) and text[j] in " \t":
        j += 1
    if j >= len(text) or text[j] != "{" or group_end(text, j) is not None:
        return None
    content = text[j + 1 :].strip()
    content = _UNCLOSED_END_RE.sub("", content).strip()
    if not content or "\n\n" in content or not groups_balance(content):
        return None
    return content


# ---------------------------------------------------------------- math and values

def strip_delimiters(s: str) -> str:
    """Remove math delimiters wrapped around the whole answer ($..$, \\(..\\), \\[..\\])."""
    s = s.strip()
    changed = True
    while changed:
        changed = False
        for left, right in _DELIMS:
            if len(s) >= len(left) + len(right) and s.startswith(left) and s.endswith(right):
                s = s[len(left) : len(s) - len(right)].strip()
                changed = True
    return s


def _find_close(text: str, right: str) -> int:
    """Index of the first `right` in text that is not an escaped dollar (`\\$` is a literal dollar sign)."""
    if not right.startswith("$"):
        return text.find(right)
    m = re.search(r"(?<!\\)" + re.escape(right), text)
    return m.start() if m else -1


@lru_cache(maxsize=256)
def _math_segments(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of each math expression in text, in order (remembered: the finders ask for the
    segments of one closing text several times)."""
    return [(m.start(), m.end(), _last_row(next(g for g in m.groups() if g is not None).strip()))
            for m in _MATH_RE.finditer(text)]


def _last_row(math: str) -> str:
    """The last row of an align/equation/gather environment (alignment marks removed); other math as is."""
    m = _ROWS_RE.match(math)
    if m is None:
        return math
    rows = [r for r in _ROW_SPLIT_RE.split(m.group(2)) if r.strip()]
    row = _ROW_LABEL_RE.sub("", rows[-1] if rows else "")
    return row.replace("&", "").strip()


def _value_of(expr: str) -> str:
    """The value an expression states: before any \\approx, the right-hand side of the last top-level = (or
    \\equiv, without its \\pmod{n}); trailing punctuation dropped."""
    parts = _APPROX_RE.split(expr)
    # "x \\approx 3.14" states 3.14; "\\frac{22}{7} \\approx 3.14" states the exact value before it.
    expr = parts[1] if len(parts) == 2 and (not parts[0].strip() or _NAME_RE.match(parts[0])) else parts[0]
    expr = expr.strip().rstrip(".,;").strip()
    if "\\equiv" in expr:
        expr = _EQUIV_RE.sub("=", _MOD_RE.sub("", expr)).strip()
        expr = expr.removesuffix("(").strip()
    if "=" not in expr:
        return expr
    cuts = [i for i in top_level(expr, "=") if i == 0 or expr[i - 1] not in "<>\\"]
    value = expr[cuts[-1] + 1 :].strip() if cuts else expr
    return value or expr


def _joined(text: str, segments: list[tuple[int, int, str]]) -> str | None:
    """The values of the trailing run of expressions joined only by ",", "and", "or": "2, 3"."""
    run = [segments[-1]]
    for prev in reversed(segments[:-1]):
        if not _JOIN_GAP_RE.fullmatch(text[prev[1] : run[0][0]]):
            break
        run.insert(0, prev)
    if len(run) < 2:
        return None
    lhs = {s.partition("=")[0].strip() for _, _, s in run if "=" in s}
    if len(lhs) > 1 or any(not _SIMPLE_LHS_RE.match(x) for x in lhs):
        return None  # "$3 \cdot 4 = 12$ and $12 + 5 = 17$": steps of a computation, not a list of answers
    return ", ".join(_value_of(s) for _, _, s in run)


def _leading_list(text: str) -> str | None:
    """The values of the expressions text opens with when several are joined by ",", "and", "or"."""
    segments = _math_segments(text)
    if not segments or segments[0][0] != 0:
        return None
    k = 1
    while k < len(segments) and _JOIN_GAP_RE.fullmatch(text[segments[k - 1][1] : segments[k][0]]):
        k += 1
    return _joined(text[: segments[k - 1][1]], segments[:k]) if k > 1 else None


def _words(s: str) -> int:
    """Words of two or more letters outside math and LaTeX commands."""
    plain = _INLINE_MATH_RE.sub(" ", s)
    return len(_TWO_LETTERS_RE.findall(_COMMAND_WITH_NAME.sub(" ", plain)))


def _is_prose(s: str) -> bool:
    """Words rather than an answer: more than a few words outside LaTeX commands and \\text{}."""
    words = _TWO_LETTERS_RE.findall(_COMMAND_ARG_RE.sub(" ", s))
    return len(words) > 8 or len(words) > 4 and not _PROSE_HINT_RE.search(s)


# ---------------------------------------------------------------- statements

def _leading_value(s: str) -> str | None:
    """The value an answer's words open with, up to its first word that is not math: "36 cubes" -> 36,
    "45 - 21 = 24." -> 45 - 21 = 24, "2^99 trees with 100 nodes" -> 2^99, "5 or 6 apples" -> 5 or 6; None when
    the words open with a word ("Tom has 12") or hold no number or command."""
    depth, stop = 0, len(s)
    for m in _LEAD_TOKEN_RE.finditer(s):
        token = m.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
        elif depth == 0 and (token[1:] in v.WORD_COMMANDS if token[0] == "\\"
                             else token.lower() not in v.VALUE_WORDS and token.lower() not in v.SCALE_WORDS):
            stop = m.start()
            break
    lead = s[:stop].strip()
    while lead and (lead[-1] in ",;:(" or lead.lower().endswith(v.JOIN_WORDS)):
        lead = lead.rstrip(",;:(").strip()
        for word in v.JOIN_WORDS:
            if lead.lower().endswith(" " + word):
                lead = lead[: -len(word)].strip()
    if not lead or not _VALUE_HINT_RE.search(lead) or lead.count("(") != lead.count(")"):
        return None
    return lead


def _stated_answer(s: str) -> str | None:
    """The answer written after an answer phrase or label (one sentence, no leading math): the value it opens
    with; else, for a sentence ("The largest $n$ is 34."), the value the sentence states; else the words."""
    s = s.replace("**", "").strip().rstrip(",;:").strip()
    if not s or _NOT_AN_ANSWER_RE.match(s):
        return None
    s = _HEDGE_RE.sub("", s)
    segments = _math_segments(s)
    if segments and not s[: segments[0][0]].strip():
        return segments[0][2] if len(segments) == 1 else (_joined(s, segments) or segments[0][2])
    lead = _leading_value(s)
    if lead is not None:
        return _value_of(lead) if lead.count("=") >= 2 else lead
    if segments and len(s[: segments[0][0]].split()) > 4:
        return None  # "the answer is independent of the choice of $x$"
    if segments or _words(s) >= 3:
        value = _last_math(s) if segments else _last_number(s)
        return value if value and not _NAME_RE.match(value) else None
    s = strip_delimiters(s).rstrip(".").strip()
    if not s or _NOT_AN_ANSWER_RE.match(s) or _is_prose(s):
        return None
    return s


def _statement_answer(tail: str) -> str | None:
    """The answer stated right after an answer phrase: leading math whole, else the sentence's answer."""
    tail = tail.lstrip(" \t*_")
    tail = re.sub(r"^\n\s*", "", tail)  # "The answer is:\n\n$42$"
    box = _BOX_RE.match(tail.lstrip("$\\[( "))
    if box is not None or tail.startswith(("$\\boxed", "\\[\\boxed", "\\(\\boxed")):
        return None  # a box written right after the phrase is read by the boxed rule
    for left, right in _DELIMS:
        if tail.startswith(left):
            close = _find_close(tail[len(left) :], right)
            if close <= 0:
                return None
            answer = tail[len(left) : len(left) + close].strip()
            # "$1$, $2$ and $3$": the answers of a list, each in its own math.
            listed = _leading_list(tail[:600])
            if listed is not None:
                return listed
            return _value_of(answer) if answer.count("=") >= 2 else answer
    m = _SENTENCE_RE.match(tail[:600])
    return _stated_answer(m.group(1)) if m else None


def _phrases(text: str, keywords: list[re.Match]):
    """(start, end, rule) of each answer phrase of text, the last first."""
    for k in reversed(keywords):
        for rule, before, follows in _PHRASES:
            body = follows.match(text, k.start())
            if body is None:
                continue
            lead = before.search(text, max(0, k.start() - 30), k.start())
            if lead is not None:
                yield lead.start(), body.end(), rule


def _statements(text: str) -> list[tuple[int, str, str]]:
    """(position, rule, answer) of the answer statements of text: of each kind, the last one."""
    found: list[tuple[int, str, str]] = []
    minerva_spans = []
    hope = text.rfind("hope")
    if hope >= 0:
        # Minerva's closing ends the response: look for it before its last "I hope it is correct" only.
        for m in _MINERVA_RE.finditer(text, max(0, hope - 600), hope + 40):
            minerva_spans.append((m.start(), m.end()))
            answer = strip_delimiters(m.group(1).strip().replace("**", ""))
            if answer and not _NOT_AN_ANSWER_RE.match(answer):
                found.append((m.start(), "minerva", answer))

    keywords = list(_KEYWORD_RE.finditer(text))
    done: set[str] = set()
    for start, end, rule in _phrases(text, keywords):
        # The last phrase of each kind that states an answer: not inside a Minerva closing, not a hypothesis.
        if rule in done or any(a <= start < b for a, b in minerva_spans):
            continue
        if _CONDITIONAL_RE.search(text, max(0, start - 12), start):
            continue
        answer = _statement_answer(text[end:])
        if answer:
            found.append((start, rule, answer))
            done.add(rule)
    if "####" in text:
        for m in _HASH_RE.finditer(text):
            answer = strip_delimiters(m.group(1)).strip()
            if answer and not re.search(r"[A-Za-z]{3,}", _COMMAND_WITH_NAME.sub("", answer)):
                found.append((m.start(), "gsm8k_hash", answer))
    found.extend(_answer_lines(text, headings=bool(keywords)))
    return found


def _last_lines(text: str, n: int) -> list[tuple[int, str]]:
    """(start, line) of the last n lines of text that hold more than white space."""
    found: list[tuple[int, str]] = []
    end = len(text)
    while end > 0 and len(found) < n:
        start = text.rfind("\n", 0, end) + 1
        if text[start:end].strip():
            found.insert(0, (start, text[start:end]))
        end = start - 1
    return found


def _answer_lines(text: str, headings: bool = True) -> list[tuple[int, str, str]]:
    """"Answer: X" on one of the last lines, and (`headings`: text says "answer") "Final Answer" / "# Answer"
    headings followed by X."""
    found = []
    for start, line in _last_lines(text, 3):
        m = _ANSWER_LINE_RE.match(line)
        if m:
            answer = _line_answer(m.group(1))
            if answer:
                found.append((start, "answer_line", answer))
    for m in _HEADING_RE.finditer(text) if headings else ():
        rest = text[m.end() :].strip()
        if not rest:
            continue
        # The answer is the next paragraph (a display may span lines), at most a few lines long.
        block = _PARAGRAPH_BREAK_RE.split(rest, maxsplit=1)[0]
        if block.count("\n") > 4:
            continue
        answer = _line_answer(block)
        if answer:
            rule = "prm800k" if m.group(1) == "#" and m.group(2).lower() == "answer" else "answer_line"
            found.append((m.start(), rule, answer))
    return found


def _line_answer(s: str) -> str | None:
    s = s.replace("**", "").strip()
    if _BOX_RE.search(s):
        return None  # read by the boxed rule
    return _stated_answer(s)


def _before_continuation(text: str) -> str:
    """The response up to the next problem or turn a base model went on to write after answering: a chat
    template's next turn ends the response wherever it comes; a "Question:" line, once an answer was given."""
    chat = _CHAT_TOKEN_RE.search(text)
    if chat is not None and text[: chat.start()].strip():
        text = text[: chat.start()]
    marker = _CONTINUATION_RE.search(text)
    if marker is None:
        return text
    first_box = _BOX_RE.search(text)
    phrases = [start for start, _, _ in _phrases(text, list(_KEYWORD_RE.finditer(text)))]
    first_hash = _HASH_RE.search(text)
    marks = [m.start() for m in (first_box, first_hash) if m is not None] + phrases[-1:]
    if not marks:
        return text
    answered = min(marks)
    for m in _CONTINUATION_RE.finditer(text, answered):
        return text[: m.start()]
    return text


def _mask_currency(text: str) -> str:
    """text with each dollar sign that marks money rather than math replaced by a space: "$18 a day",
    "9 * $2 = $18", "costs $5 and $x$ is 3". A `$` before a digit that would open math is money when no `$`
    closes it, when the `$` that would close it opens another amount ("$2 = $18"), or when what it would
    enclose reads as prose or ends in a space."""
    # Inline math never spans a paragraph break: start at one before the tail the finders read.
    start = max(0, text.find("\n\n", max(0, len(text) - _TAIL_CHARS - 1000)))
    money: list[int] = []
    dollars, counted = 0, start
    for hint in _MONEY_HINT_RE.finditer(text, start):
        at = hint.start()
        # An even count of dollars before it (`$$` counts twice; money found so far does not) opens math.
        dollars += text.count("$", counted, at) - text.count("\\$", counted, at)
        counted = at
        if (dollars - len(money)) % 2:
            continue
        close = _next_dollar(text, at + 1)
        content = text[at + 1 : close] if close >= 0 else ""
        if (close < 0 or text[close + 1 : close + 2].isdigit() or content[-1:].isspace()
                or len(_PROSE_WORD_RE.findall(_COMMAND_ARG_RE.sub(" ", content))) >= 2):
            money.append(at)
    if not money:
        return text
    chars = list(text)
    for at in money:
        chars[at] = " "
    return "".join(chars)


def _next_dollar(text: str, start: int) -> int:
    """Index of the next `$` that is not escaped, -1 if none."""
    at = text.find("$", start)
    while at > 0 and text[at - 1] == "\\":
        at = text.find("$", at + 1)
    return at


# ---------------------------------------------------------------- the closing text

def _closing_text(text: str) -> str | None:
    """The last paragraph that holds a digit or math, code removed; None when it asks a question."""
    tail = _CODE_RE.sub("\n\n", text[-_CLOSING_CHARS * 2 :])
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", tail) if p.strip()]
    for skipped, paragraph in enumerate(reversed(paragraphs)):
        if _CHECK_RE.match(paragraph) and skipped < 2:
            continue  # "Check: 2(4) + 3 = 11": a verification restates the problem's numbers, not the answer
        if _HAS_MATH_RE.search(paragraph):
            paragraph = paragraph[-_CLOSING_CHARS:].strip()
            if _asks(paragraph):
                return None
            # "The answer is not 5.", "x cannot be 3": a negated value is no answer.
            kept = [s for s in _SENTENCE_SPLIT_RE.split(paragraph) if not _negated(s)]
            return " ".join(kept) or None
        if skipped >= 2 or len(paragraph) > 300:
            return None
    return None


def _negated(sentence: str) -> bool:
    lower = sentence.lower()
    if not ("n" in lower and ("not" in lower or "n't" in lower or "never" in lower or "\\ne" in lower) or "≠" in lower):
        return False
    return bool(_NEGATION_RE.search(sentence))


def _asks(paragraph: str) -> bool:
    """Whether a paragraph poses a problem rather than answers it (a question, a restated task)."""
    plain = _INLINE_MATH_RE.sub("M", paragraph).strip()
    sentences = [s for s in _SENTENCE_END_RE.split(plain) if s.strip()]
    if not sentences:
        return False
    last = sentences[-1].rstrip("*_ ")
    # "Find x if 2x = 20." restates the task; "Solve for x: 2x = 8, so x = 4." and "Compute: 3 * 4 = 12" answer it.
    task = bool(_QUESTION_START_RE.match(last)) and not _RESULT_RE.search(last)
    return last.endswith("?") or task or bool(_PROBLEM_LABEL_RE.match(sentences[0]))


def _final_clause(closing: str) -> str:
    """The closing text without its last sentence's trailing justification ("..., since $k^2 = 9$.")."""
    sentences = _SENTENCE_SPLIT_RE.split(closing.strip())
    sentences[-1] = _JUSTIFICATION_RE.split(sentences[-1], maxsplit=1)[0]
    return " ".join(sentences)


def _number_after_math(closing: str, segments: list[tuple[int, int, str]]) -> str | None:
    """A plain number that the last sentence states after its last math holding a value.

    "Since $n = 4$, the sum is 10." and "The smallest such $n$ is 7." state their answer as a number in
    prose; the math before it names the unknowns or the givens.
    """
    splits = list(_SENTENCE_SPLIT_RE.finditer(closing))
    sentence_start = splits[-1].end() if splits else 0
    valued = [(end, content) for start, end, content in segments if start >= sentence_start and content
              and not _NAME_RE.match(content)]
    if valued and "=" not in valued[-1][1]:
        return None  # "$40$ daps are equal to 70 yaps": a value set in math is the one the sentence states
    after = valued[-1][0] if valued else sentence_start
    plain = _MATH_RE.sub(lambda m: " " * len(m.group(0)), closing[after:]).replace("**", "  ")
    numbers = [m for m in _NUMBER_RE.finditer(plain) if not _LETTER_START_RE.match(plain[m.end() : m.end() + 1])
               and not _ORDINAL_CONTEXT_RE.search(plain[: m.start()])]
    return numbers[-1].group(0).replace(",", "") if numbers else None


def _counts_a_thing(text: str, start: int, end: int) -> bool:
    """Whether the value at text[start:end] counts the thing named after it in a phrase that sets a
    condition ("... trees with 100 nodes", "each of the 4 friends"), not the result ("a total of 21")."""
    before = text[max(0, start - 40) : start]
    after = _COUNTED_AFTER_RE.match(text, end)
    return (after is not None and after.group(1) not in _LINKING and bool(_COUNT_BEFORE_RE.search(before))
            and not _RESULT_OF_RE.search(before))


def _plain_values(text: str) -> list[re.Match]:
    """The plain-text values of text (math left out), in order."""
    plain = _MATH_RE.sub(lambda m: " " * len(m.group(0)), text).replace("**", "  ")
    return list(_NUMBER_RE.finditer(plain))


def _last_math(closing: str) -> str | None:
    closing = _final_clause(closing)
    segments = _math_segments(closing)
    if not segments:
        return None
    number = _number_after_math(closing, segments)
    if number is not None:
        return number
    joined = _joined(closing, segments)
    if joined is not None:
        return joined
    # "so $5$ is the value of $x$": a bare name yields to an earlier expression that holds a value.
    for start, end, content in reversed(segments):
        if content and not _NAME_RE.match(content):
            if _counts_a_thing(closing, start, end):
                # "there are 2^{99} trees on $100$ nodes": the value the sentence states is the other one.
                splits = list(_SENTENCE_SPLIT_RE.finditer(closing[:start]))
                sentence_start = splits[-1].end() if splits else 0
                stated = [m for m in _plain_values(closing[sentence_start:start])
                          if not _counts_a_thing(closing, sentence_start + m.start(), sentence_start + m.end())]
                if stated:
                    return stated[-1].group(0).replace(",", "")
            return _value_of(content)
    return segments[-1][2] or None


def _last_number(closing: str) -> str | None:
    """The last plain value of the closing text, passing over one that counts the thing named after it when
    the sentence states another ("2^99 trees with 100 nodes" -> 2^99)."""
    plain = closing.replace("**", "  ")
    numbers = list(_NUMBER_RE.finditer(plain))
    if not numbers:
        return None
    splits = list(_SENTENCE_SPLIT_RE.finditer(plain))
    sentence_start = splits[-1].end() if splits else 0
    last = numbers[-1]
    if last.start() >= sentence_start and _counts_a_thing(plain, last.start(), last.end()):
        stated = [m for m in numbers if m.start() >= sentence_start and not _counts_a_thing(plain, m.start(), m.end())]
        if stated:
            last = stated[-1]
    return last.group(0).replace(",", "")


def _bold(closing: str) -> str | None:
    last_sentence = _BOLD_SENTENCE_SPLIT_RE.split(closing.strip())[-1]
    for m in reversed(list(_BOLD_RE.finditer(last_sentence))):
        if m.group(1).rstrip().endswith(":") or last_sentence[m.end() :].lstrip().startswith(":"):
            continue  # a label ("**Step 4:**", "**Answer**:"), not an answer
        answer = m.group(1).strip().rstrip(".,")
        if not answer or _LABEL_RE.match(answer) or len(answer.split()) > 12:
            continue
        if _words(answer) >= 3:
            # "**Therefore, there are 7 apples.**": the value the bold sentence ends on.
            value = _last_math(answer) or _last_number(answer)
            if value:
                return value
            continue
        if re.search(r"\d|\\|\$|[=^]", answer) or len(answer.split()) <= 3:
            return _value_of(strip_delimiters(answer)) if "=" in answer else strip_delimiters(answer)
    return None


def _program_output(text: str) -> str | None:
    tail = text[-_TAIL_CHARS:]
    blocks = list(_OUTPUT_RE.finditer(tail))
    if not blocks:
        return None
    after = tail[blocks[-1].end() :]
    if re.search(r"\d|\$|\\\(|\\\[|```", after):
        return None  # something is stated after the output: the later rules read it
    # "Three trucks will be needed.": a count stated in words after the output is the answer.
    words = [m for m in _NUMBER_WORD_RE.finditer(after) if not (m.group(1) and m.group(2).lower() == "one")]
    if words:
        return str(word_number(words[-1].group(2)))
    lines = [line.strip() for line in blocks[-1].group(1).splitlines() if line.strip()]
    if not lines or len(lines[-1]) > 200:
        return None
    return lines[-1]


def _no_value(text: str) -> str | None:
    """"... so the limit does not exist.": a final sentence that says there is no value gives that answer."""
    m = _NO_VALUE_RE.search(text[-80:].rstrip())
    return v.NO_VALUE_PHRASES[" ".join(m.group(1).lower().split())] if m else None


# ---------------------------------------------------------------- the finders

class Reading:
    """A response as the finders read it: each view (the last box, the statements, the closing text) is
    computed once, when a finder first asks for it. A boxed answer needs only `raw` and the box: the views
    the later finders read (money told from math, statements, the closing text) are never computed for it."""

    _UNSET = object()

    def __init__(self, response: str, rules: tuple[str, ...]):
        self.raw = _before_continuation(response)
        self.rules = rules
        self.tail_start = max(0, len(self.raw) - _TAIL_CHARS)
        self._text = self._box = self._statements = self._dangling = self._closing = Reading._UNSET

    @property
    def text(self) -> str:
        """The response with the dollar signs of amounts of money blanked out."""
        if self._text is Reading._UNSET:
            self._text = _mask_currency(self.raw)
        return self._text

    @property
    def box(self) -> tuple[str, int] | None:
        if self._box is Reading._UNSET:
            self._box = last_boxed_span(self.raw)
        return self._box

    @property
    def boxes_first(self) -> bool:
        """A closed box decides before any statement (the boxed rule is on and a box was found)."""
        return self.box is not None and "boxed" in self.rules

    @property
    def statements(self) -> list[tuple[int, str, str]]:
        """(position, rule, answer) of the statements the finders may take, positions in the text."""
        if self._statements is Reading._UNSET:
            self._statements = [s for s in self._find_statements() if s[1] in self.rules]
        return self._statements

    def _find_statements(self) -> list[tuple[int, str, str]]:
        if self.boxes_first:
            start = max(self.box[1], self.tail_start)
            after = self.raw[start:]
            if "final" not in after.lower():
                return []  # every statement that overrides a box says "final"
            after = _mask_currency(after)
            return [(start + at, rule, answer) for at, rule, answer in _statements(after)
                    if rule in _FINAL_RULES or rule == "answer_line" and "final" in after[at:][:40].lower()]
        return [(self.tail_start + at, rule, answer) for at, rule, answer in _statements(self.text[self.tail_start :])]

    @property
    def dangling(self) -> bool:
        """The response stops mid-sentence or mid-formula: its last number is an intermediate one."""
        if self._dangling is Reading._UNSET:
            self._dangling = _dangling(self.raw)
        return self._dangling

    @property
    def closing(self) -> str | None:
        if self._closing is Reading._UNSET:
            self._closing = None if self.dangling else _closing_text(self.text)
        return self._closing


def _dangling(text: str) -> bool:
    end = text[-40:].rstrip()
    if end.endswith(_DANGLING_MARKS):
        return True
    word = _LAST_WORD_RE.search(end)
    if word is None:
        return False
    if word.group(1):
        return word.group(2) in _DANGLING_COMMANDS
    return word.group(2).lower() in _DANGLING_WORDS and (word.start() == 0 or not end[word.start() - 1].isalnum())


def _latest_statement(r: Reading) -> tuple[str, str] | None:
    if not r.statements:
        return None
    _, rule, answer = max(r.statements, key=lambda s: s[0])
    return rule, answer


def _find_final_after_box(r: Reading) -> tuple[str, str] | None:
    return _latest_statement(r) if r.boxes_first else None


def _find_boxed_unclosed(r: Reading) -> tuple[str, str] | None:
    if r.box is not None and "\\boxed" not in r.raw[r.box[1] :] and "\\fbox" not in r.raw[r.box[1] :]:
        return None  # the last box is the closed one
    answer = _unclosed_box(r.raw)
    return ("boxed_unclosed", answer) if answer is not None else None


def _find_boxed(r: Reading) -> tuple[str, str] | None:
    if r.box is None:
        return None
    content, end = r.box
    return "boxed", _joined_boxes(r.raw, content, end)


def _find_statement(r: Reading) -> tuple[str, str] | None:
    return _latest_statement(r)


def _closing_finder(rule: str, find: Callable[[str], str | None]) -> Callable[[Reading], tuple[str, str] | None]:
    def finder(r: Reading) -> tuple[str, str] | None:
        answer = find(r.closing) if r.closing is not None else None
        return (rule, answer) if answer else None

    return finder


def _find_no_value(r: Reading) -> tuple[str, str] | None:
    answer = None if r.dangling else _no_value(r.text)
    return ("no_value", answer) if answer else None


def _find_program_output(r: Reading) -> tuple[str, str] | None:
    if r.dangling:
        return None
    answer = _program_output(r.text)
    return ("program_output", answer) if answer else None


Finder = Callable[[Reading], "tuple[str, str] | None"]
# (name, the rules it may record, finder), in order of precedence: extract() takes the first answer found.
FINDERS: tuple[tuple[str, tuple[str, ...], Finder], ...] = (
    ("final_after_box", _FINAL_RULES + ("answer_line",), _find_final_after_box),
    ("boxed_unclosed", ("boxed_unclosed",), _find_boxed_unclosed),
    ("boxed", ("boxed",), _find_boxed),
    ("statement", STATEMENT_RULES, _find_statement),
    ("no_value", ("no_value",), _find_no_value),
    ("bold", ("bold",), _closing_finder("bold", _bold)),
    ("program_output", ("program_output",), _find_program_output),
    ("last_math", ("last_math",), _closing_finder("last_math", _last_math)),
    ("last_number", ("last_number",), _closing_finder("last_number", _last_number)),
)


def extract(response: str, rules: tuple[str, ...] = RULES) -> Extraction:
    """The final answer of a response and the rule that read it: the first of FINDERS (among `rules`) that
    finds one."""
    unknown = set(rules) - set(RULES)
    if unknown:
        raise ValueError(f"unknown extraction rule(s) {sorted(unknown)}; expected some of {', '.join(RULES)}")
    reading = Reading(response, rules)
    for _, produces, find in FINDERS:
        if not any(rule in rules for rule in produces):
            continue
        found = find(reading)
        if found is not None:
            return Extraction(found[1], found[0], reading.box is not None)
    return Extraction(None, "none", reading.box is not None)


def extract_answer(response: str) -> tuple[str | None, bool]:
    """(answer, boxed) of `extract`: the final answer and whether the response has a closed box."""
    found = extract(response)
    return found.answer, found.boxed


@lru_cache(maxsize=65536)
def extract_gt(gt: str) -> str:
    """The ground truth as an answer string: its \\boxed{} content if it has one, delimiters removed; a list
    written as several math expressions ("$x=1$, $y=2$", OlympiadBench's style) joined: "x=1, y=2"."""
    boxed = last_boxed(gt)
    if boxed is not None:
        return strip_delimiters(boxed)
    if gt.count("$") >= 4:
        text = gt.strip()
        segments = _math_segments(text)
        gaps = [text[a[1] : b[0]] for a, b in zip(segments, segments[1:], strict=False)]
        if (len(segments) > 1 and segments[0][0] == 0 and segments[-1][1] == len(text)
                and all(_JOIN_GAP_RE.fullmatch(gap) for gap in gaps)):
            return ", ".join(content for _, _, content in segments)
    return strip_delimiters(gt)


def boxes(text: str) -> list[str]:
    """The contents of the well-formed boxes of text, in order (the answers of a question in parts)."""
    found = []
    for m in _BOX_RE.finditer(text):
        j = m.end()
        while j < len(text) and text[j] in " \t":
            j += 1
        end = group_end(text, j) if j < len(text) and text[j] == "{" else None
        if end is not None:
            found.append(text[j + 1 : end - 1].strip())
    return found
