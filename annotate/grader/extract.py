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
   X is the math right after the phrase (`$...$`, `\\(...\\)`, `\\[...\\]`, `$$...$$`, a box), else
   the words up to the end of the sentence. A statement whose X is a verdict rather than an answer
   ("the answer is not 5", "the answer is correct", "the answer is as follows") or prose is passed
   over; a sentence after a heading gives the value it ends on.
5. ``bold``: the last `**X**` in the closing sentence, X short (a number, a formula or a few words);
   a bold sentence gives the value it ends on.
6. ``program_output``: the last line of the last ```` ```output ```` block, when no number or math
   is written after the block.
7. ``last_math``: the last math expression (`$...$`, `\\(...\\)`, `\\[...\\]`, `$$...$$`, the last
   row of an align/equation environment) of the closing text; `name = value` gives the value (the
   right-hand side of the last `=` or `\\equiv`, before any `\\approx`), "$x = 2$ and $x = 3$" gives
   "2, 3", and a bare name ("the value of $x$") yields to an earlier expression that holds a value.
8. ``last_number``: the last number of the closing text (the Qwen2.5-Math harness's fallback).

The closing text is the last paragraph of the response that holds a digit or math (code blocks
removed; up to two trailing paragraphs of pleasantries are stepped over; sentences with a negation,
"x cannot be 5", dropped). Rules 5-8 find nothing when that text is a question ("... ?") or restates
the task ("Find ...", "Problem: ..."), or when the response stops mid-sentence or mid-formula ("... and
then we multiply by"). Before anything, a base model's continuation (a "Question:" / "Problem:" /
"Human:" line written after an answer) is cut off. Every search looks at a bounded tail of the
response, so extraction is linear in a bounded length. The words the finders look for are data in
annotate/grader/vocabulary.py; brackets are matched by annotate/grader/scan.py.

Ground truths go through `extract_gt`: a `\\boxed{}` inside is taken, then surrounding `$`, `\\(...\\)`,
`\\[...\\]` are removed, so gts and predictions are normalised alike.

    python -c "from annotate.grader import extract; print(extract(r'Therefore $x \\gt 5$ is the solution.'))"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from annotate.grader import vocabulary as v
from annotate.grader.scan import group_end, groups_balance, top_level

STATEMENT_RULES = ("minerva", "final_answer_is", "answer_is", "gsm8k_hash", "answer_line", "prm800k")
# The rules an Extraction can name, in order of precedence; "none" is recorded when no rule finds an answer.
RULES = ("boxed", "boxed_unclosed", *STATEMENT_RULES, "bold", "program_output", "last_math", "last_number")
# Rules that read an answer the response never marks as final: on a response cut by the token limit
# they would read an intermediate result, so callers that know of the cut refuse their answers.
IMPLICIT_RULES = ("boxed_unclosed", "bold", "program_output", "last_math", "last_number")
# Statements that say the answer is final: one written after the last box overrides the box.
_FINAL_RULES = ("minerva", "final_answer_is")
# The rules that read the closing text.
_CLOSING_RULES = ("bold", "program_output", "last_math", "last_number")

# Statements are looked for in this tail of the response; the closing text in this (shorter) one.
_TAIL_CHARS = 4000
_CLOSING_CHARS = 1500
# An unclosed box longer than this at the end is a cut expression, not an answer.
_MAX_UNCLOSED = 200
# How many unbalanced (truncated) boxes to step back over before giving up on the boxed form.
_MAX_BOX_TRIES = 8

_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def _words_re(words, flags=re.I) -> re.Pattern:
    return re.compile(v.words_pattern(words), flags)


_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BOX_TOKEN_RE = re.compile(r"[^\s$]+")
_MINERVA_RE = re.compile(r"final\s+answer\s+is\s*:?\s*(.{1,400}?)\s*\.?\s*I\s+hope\s+it\s+is\s+correct", re.I | re.S)
_FINAL_RE = re.compile(
    r"(?=[fF])\bfinal\s+(?:answer|result)s?(?:\s+(?:to|for|of)\b[^.\n$]{0,80}?)?\s*(?:is|are|was|would\s+be|:|=)\s*:?",
    re.I,
)
_ANSWER_IS_RE = re.compile(
    # (the look-ahead on the first letter lets the scan skip most positions at once)
    r"(?=[tmocshTMOCSH答])(?:\b(?:the|my|our|correct|so|thus|hence|therefore,?)\s+answers?(?:\s+choice)?|\bcorrect\s+(?:option|choice))"
    r"(?:\s+(?:to|for|of)\b[^.\n$]{0,80}?)?\s*(?:is|are|would\s+be|=)\s*:?"
    r"|(?:最终)?答案(?:是|为)\s*[:：]?",
    re.I,
)
_KEYWORD_RE = re.compile(r"[Aa]nswer|ANSWER|[Rr]esult|[Oo]ption|[Cc]hoice|答案")
_CONTINUATION_RE = re.compile(
    rf"\n[ \t]*{v.words_pattern(v.CONTINUATION_LABELS)}[ \t]*[:：]|{'|'.join(re.escape(t) for t in v.CHAT_TOKENS)}"
)
# A response that stops mid-sentence or mid-formula: what it ends on is not a final answer.
_DANGLING_RE = re.compile(
    rf"(?:\b{v.words_pattern(v.DANGLING_WORDS)}|[+\-/=,:(\[{{^&]|\\{v.words_pattern(v.DANGLING_COMMANDS)})\s*$", re.I
)
_HASH_RE = re.compile(r"^[ \t]*####[ \t]*(\S[^\n]*?)[ \t]*$", re.M)
_ANSWER_LINE_RE = re.compile(r"^[\s#>*_]*(?:(?i:final\s+answer|answer)|A)[\s*_]*[:：][\s*_]*(\S.*)$")
_HEADING_RE = re.compile(r"^[ \t]*(#*)[ \t*_]*((?i:final\s+answer|answer))[ \t*_:]*$", re.M)
_LINE_RE = re.compile(r"[^\n]*\S[^\n]*")
_PARAGRAPH_BREAK_RE = re.compile(r"\n\s*\n")
_OUTPUT_RE = re.compile(r"```output[ \t]*\n(.*?)```", re.S)
_CODE_RE = re.compile(r"```.*?(?:```|$)", re.S)
_BOLD_RE = re.compile(r"\*\*(?!\s)([^*\n]{1,120}?)(?<!\s)\*\*")
_MATH_RE = re.compile(
    r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|(?<![\\$])\$(?!\$)((?:\\\$|[^$])+?)(?<!\\)\$"
    r"|(\\begin\{(?:align|equation|gather|eqnarray)\*?\}.+?\\end\{(?:align|equation|gather|eqnarray)\*?\})",
    re.S,
)
_INLINE_MATH_RE = re.compile(r"\$[^$]*\$|\\\(.*?\\\)|\\\[.*?\\\]", re.S)
_HAS_MATH_RE = re.compile(r"\d|\$|\\\(|\\\[")
# A display environment of aligned rows: its last row states the result.
_ROWS_RE = re.compile(r"^\\begin\{(align|aligned|equation|gather|eqnarray|split)\*?\}(.*)\\end\{\1\*?\}$", re.S)
_ROW_SPLIT_RE = re.compile(r"\\\\(?:\[[^\]]*\])?")
_ROW_LABEL_RE = re.compile(r"\\(?:nonumber|notag)\b|\\(?:label|tag)\{[^{}]*\}")
# A number: a time of day (4:30 p.m.), an integer with thousands separators, a decimal, a fraction a/b.
_NUMBER_RE = re.compile(
    r"(?<![\w^_.\\:{])(?:\d{1,2}:\d{2}(?:\s*[AaPp]\.?\s*[Mm]\b\.?)?|-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+(?:\.\d+)?)?)(?![\w.:]\d)"
)
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


def last_boxed_span(text: str) -> tuple[str, int] | None:
    """(content, end index) of the last well-formed box."""
    starts = [m.end() for m in _BOX_RE.finditer(text)]
    for pos in reversed(starts[-_MAX_BOX_TRIES:]):
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


def _math_segments(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of each math expression in text, in order."""
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


def _words(s: str) -> int:
    """Words of two or more letters outside math and LaTeX commands."""
    plain = _INLINE_MATH_RE.sub(" ", s)
    return len(_TWO_LETTERS_RE.findall(_COMMAND_WITH_NAME.sub(" ", plain)))


def _is_prose(s: str) -> bool:
    """Words rather than an answer: more than a few words outside LaTeX commands and \\text{}."""
    words = _TWO_LETTERS_RE.findall(_COMMAND_ARG_RE.sub(" ", s))
    return len(words) > 8 or len(words) > 4 and not _PROSE_HINT_RE.search(s)


# ---------------------------------------------------------------- statements

def _statement_answer(tail: str) -> str | None:
    """The answer stated right after an answer phrase: leading math whole, else up to the sentence's end."""
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
            return _value_of(answer) if answer.count("=") >= 2 else answer
    m = _SENTENCE_RE.match(tail[:600])
    if not m:
        return None
    answer = m.group(1).replace("**", "").strip().rstrip(",;:")
    segments = _math_segments(answer)
    if segments and not answer.startswith(("$", "\\(", "\\[")):
        # "approximately $3.5$", "x = $5$ apples": the math in the sentence is the answer.
        lead = answer[: segments[0][0]]
        if len(lead.split()) <= 4:
            return _joined(answer, segments) or segments[0][2]
        return None
    answer = strip_delimiters(answer)
    if not answer or _NOT_AN_ANSWER_RE.match(answer):
        return None
    if _is_prose(answer):
        return None  # "the answer is independent of the order we pick them in"
    return answer


def _phrases(regex: re.Pattern, text: str) -> list[re.Match]:
    """The matches of an answer phrase, looked for only around its keywords (a case-insensitive scan of
    the whole tail would cost more than everything else extraction does)."""
    found: list[re.Match] = []
    for k in _KEYWORD_RE.finditer(text):
        for m in regex.finditer(text, max(0, k.start() - 30), min(len(text), k.end() + 100)):
            if k.start() - 30 <= m.start() <= k.start() and (not found or m.start() > found[-1].start()):
                found.append(m)
    return found


def _statements(text: str) -> list[tuple[int, str, str]]:
    """(position, rule, answer) of every answer statement found in text."""
    found: list[tuple[int, str, str]] = []
    minerva_spans = []
    for m in _MINERVA_RE.finditer(text):
        minerva_spans.append((m.start(), m.end()))
        answer = strip_delimiters(m.group(1).strip().replace("**", ""))
        if answer and not _NOT_AN_ANSWER_RE.match(answer):
            found.append((m.start(), "minerva", answer))
    for regex, rule in ((_FINAL_RE, "final_answer_is"), (_ANSWER_IS_RE, "answer_is")):
        for m in _phrases(regex, text):
            if any(a <= m.start() < b for a, b in minerva_spans):
                continue
            answer = _statement_answer(text[m.end() :])
            if answer:
                found.append((m.start(), rule, answer))
    for m in _HASH_RE.finditer(text):
        answer = strip_delimiters(m.group(1)).strip()
        if answer and not re.search(r"[A-Za-z]{3,}", _COMMAND_WITH_NAME.sub("", answer)):
            found.append((m.start(), "gsm8k_hash", answer))
    found.extend(_answer_lines(text))
    return found


def _answer_lines(text: str) -> list[tuple[int, str, str]]:
    """"Answer: X" on one of the last lines, and "Final Answer" / "# Answer" headings followed by X."""
    found = []
    lines = [(m.start(), m.group(0)) for m in _LINE_RE.finditer(text)][-3:]
    for start, line in lines:
        m = _ANSWER_LINE_RE.match(line)
        if m:
            answer = _line_answer(m.group(1))
            if answer:
                found.append((start, "answer_line", answer))
    for m in _HEADING_RE.finditer(text):
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
    segments = _math_segments(s)
    if segments and not s[: segments[0][0]].strip():
        s = segments[0][2] if len(segments) == 1 else (_joined(s, segments) or segments[0][2])
    elif _words(s) >= 3:
        # A sentence ("The total number of apples is $7$."): the value it ends on.
        return _last_math(s) or _last_number(s)
    s = strip_delimiters(s).rstrip(".").strip()
    if not s or _NOT_AN_ANSWER_RE.match(s) or _is_prose(s):
        return None
    return s


def _before_continuation(text: str) -> str:
    """The response up to the next problem or turn a base model went on to write after answering."""
    marker = _CONTINUATION_RE.search(text)
    if marker is None:
        return text
    first_box = _BOX_RE.search(text)
    first_statement = _FINAL_RE.search(text) or _ANSWER_IS_RE.search(text) or _HASH_RE.search(text)
    answered = min(m.start() for m in (first_box, first_statement) if m is not None) if first_box or first_statement else None
    if answered is None:
        return text
    for m in _CONTINUATION_RE.finditer(text, answered):
        return text[: m.start()]
    return text


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
            kept = [s for s in _SENTENCE_SPLIT_RE.split(paragraph) if not _NEGATION_RE.search(s)]
            return " ".join(kept) or None
        if skipped >= 2 or len(paragraph) > 300:
            return None
    return None


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
    for _, _, content in reversed(segments):
        if content and not _NAME_RE.match(content):
            return _value_of(content)
    return segments[-1][2] or None


def _last_number(closing: str) -> str | None:
    numbers = _NUMBER_RE.findall(closing.replace("**", ""))
    return numbers[-1].replace(",", "") if numbers else None


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
    lines = [line.strip() for line in blocks[-1].group(1).splitlines() if line.strip()]
    if not lines or len(lines[-1]) > 200:
        return None
    return lines[-1]


# ---------------------------------------------------------------- the finders

class Reading:
    """A response as the finders read it: each view (the last box, the statements, the closing text) is
    computed once, when a finder first asks for it."""

    def __init__(self, response: str, rules: tuple[str, ...]):
        self.text = _before_continuation(response)
        self.rules = rules
        self.tail_start = max(0, len(self.text) - _TAIL_CHARS)

    @cached_property
    def box(self) -> tuple[str, int] | None:
        return last_boxed_span(self.text)

    @cached_property
    def boxes_first(self) -> bool:
        """A closed box decides before any statement (the boxed rule is on and a box was found)."""
        return self.box is not None and "boxed" in self.rules

    @cached_property
    def statements(self) -> list[tuple[int, str, str]]:
        """(position, rule, answer) of the statements the finders may take, positions in the text."""
        if self.boxes_first:
            start = max(self.box[1], self.tail_start)
            found = [(start + at, rule, answer) for at, rule, answer in _statements(self.text[start:])
                     if rule in _FINAL_RULES or rule == "answer_line" and "final" in self.text[start + at :][:40].lower()]
        else:
            found = [(self.tail_start + at, rule, answer)
                     for at, rule, answer in _statements(self.text[self.tail_start :])]
        return [s for s in found if s[1] in self.rules]

    @cached_property
    def dangling(self) -> bool:
        """The response stops mid-sentence or mid-formula: its last number is an intermediate one."""
        return bool(_DANGLING_RE.search(self.text[-200:]))

    @cached_property
    def closing(self) -> str | None:
        return None if self.dangling else _closing_text(self.text)


def _latest_statement(r: Reading) -> tuple[str, str] | None:
    if not r.statements:
        return None
    _, rule, answer = max(r.statements, key=lambda s: s[0])
    return rule, answer


def _find_final_after_box(r: Reading) -> tuple[str, str] | None:
    return _latest_statement(r) if r.boxes_first else None


def _find_boxed_unclosed(r: Reading) -> tuple[str, str] | None:
    answer = _unclosed_box(r.text)
    return ("boxed_unclosed", answer) if answer is not None else None


def _find_boxed(r: Reading) -> tuple[str, str] | None:
    if r.box is None:
        return None
    content, end = r.box
    return "boxed", _joined_boxes(r.text, content, end)


def _find_statement(r: Reading) -> tuple[str, str] | None:
    return _latest_statement(r)


def _closing_finder(rule: str, find: Callable[[str], str | None]) -> Callable[[Reading], tuple[str, str] | None]:
    def finder(r: Reading) -> tuple[str, str] | None:
        answer = find(r.closing) if r.closing is not None else None
        return (rule, answer) if answer else None

    return finder


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


def extract_gt(gt: str) -> str:
    """The ground truth as an answer string: its \\boxed{} content if it has one, delimiters removed."""
    boxed = last_boxed(gt)
    return strip_delimiters(boxed if boxed is not None else gt)
