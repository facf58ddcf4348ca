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
   plain text such as 2√3, 12π or 2^99 included; "x = 2 or x = -3" at the end gives "2, -3"). In rules 8
   and 9, a value that counts the thing named after it in a phrase setting a condition ("2^99 trees with
   100 nodes", "each of the 4 friends") yields to the value the sentence states.

The closing text is the last paragraph of the response that holds a digit or math (code blocks
removed; up to two trailing paragraphs of pleasantries or of checking ("Check: ...", "We can verify that
...") are stepped over; sentences with a negation,
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

    python -c "from annotate.grader import extract; print(extract(r'Therefore \\(x \\gt 5\\) is the solution.'))"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from annotate.grader.boxes import joined_boxes, last_boxed, last_boxed_span, unclosed_box
from annotate.grader.closing import (
    TAIL_CHARS,
    bold_answer,
    closing_text,
    dangling,
    last_math,
    last_number,
    no_value,
    program_output,
)
from annotate.grader.mathtext import JOIN_GAP_RE, mask_currency, math_segments, strip_delimiters
from annotate.grader.statements import STATEMENT_RULES, before_continuation, latest_statement

# The rules an Extraction can name, in order of precedence; "none" is recorded when no rule finds an answer.
RULES = ("boxed", "boxed_unclosed", *STATEMENT_RULES, "no_value", "bold", "program_output", "last_math", "last_number")
# Rules that read an answer the response never marks as final: on a response cut by the token limit
# they would read an intermediate result, so callers that know of the cut refuse their answers.
IMPLICIT_RULES = ("boxed_unclosed", "no_value", "bold", "program_output", "last_math", "last_number")
# Statements that say the answer is final: one written after the last box overrides the box.
_FINAL_RULES = ("minerva", "final_answer_is")


@dataclass(frozen=True)
class Extraction:
    answer: str | None  # the final answer read from the response (None: no rule found one)
    rule: str  # the rule that read it (one of RULES), "none" when none did
    boxed: bool  # the response has a closed \boxed{...} / \fbox{...}


class Reading:
    """A response as the finders read it: the last box at once (every extraction reports it), each other view
    (the statements, the closing text) once, when a finder first asks for it. A boxed answer needs only `raw`
    and the box: the views the later finders read (money told from math, statements, the closing text) are
    never computed for it."""

    _UNSET = object()

    def __init__(self, response: str, rules: tuple[str, ...]):
        self.raw = before_continuation(response)
        self.rules = rules
        self.tail_start = max(0, len(self.raw) - TAIL_CHARS)
        # The last box: every extraction reports whether there is one.
        self.box: tuple[str, int] | None = last_boxed_span(self.raw)
        # A closed box decides before any statement (the boxed rule is on and a box was found).
        self.boxes_first = self.box is not None and "boxed" in rules
        self._text = self._statement = self._dangling = self._closing = Reading._UNSET

    @property
    def text(self) -> str:
        """The response with the dollar signs of amounts of money blanked out."""
        if self._text is Reading._UNSET:
            # Inline math never spans a paragraph break: tell money from math from one before the tail read.
            start = max(0, self.raw.find("\n\n", max(0, len(self.raw) - TAIL_CHARS - 1000)))
            self._text = mask_currency(self.raw, start)
        return self._text

    @property
    def statement(self) -> tuple[str, str] | None:
        """(rule, answer) of the statement written last that the finders may take (positions in the text)."""
        if self._statement is Reading._UNSET:
            self._statement = self._find_statement()
        return self._statement

    def _find_statement(self) -> tuple[str, str] | None:
        rules = self.rules
        if self.boxes_first:
            start = max(self.box[1], self.tail_start)
            after = self.raw[start:]
            if "final" not in after.lower():
                return None  # every statement that overrides a box says "final"
            after = mask_currency(after)
            found = latest_statement(after, lambda at, rule: rule in rules and (
                rule in _FINAL_RULES or rule == "answer_line" and "final" in after[at : at + 40].lower()))
        else:
            found = latest_statement(self.text[self.tail_start :], lambda at, rule: rule in rules)
        return (found[1], found[2]) if found else None

    @property
    def dangling(self) -> bool:
        """The response stops mid-sentence or mid-formula: its last number is an intermediate one."""
        if self._dangling is Reading._UNSET:
            self._dangling = dangling(self.raw)
        return self._dangling

    @property
    def closing(self) -> str | None:
        if self._closing is Reading._UNSET:
            self._closing = None if self.dangling else closing_text(self.text)
        return self._closing


def _find_final_after_box(r: Reading) -> tuple[str, str] | None:
    return r.statement if r.boxes_first else None


def _find_boxed_unclosed(r: Reading) -> tuple[str, str] | None:
    if r.box is not None and r.raw.find("\\boxed", r.box[1]) < 0 and r.raw.find("\\fbox", r.box[1]) < 0:
        return None  # the last box is the closed one
    answer = unclosed_box(r.raw)
    return ("boxed_unclosed", answer) if answer is not None else None


def _find_boxed(r: Reading) -> tuple[str, str] | None:
    if r.box is None:
        return None
    content, end = r.box
    return "boxed", joined_boxes(r.raw, content, end)


def _find_statement(r: Reading) -> tuple[str, str] | None:
    return r.statement


def _closing_finder(rule: str, find: Callable[[str], str | None]) -> Callable[[Reading], tuple[str, str] | None]:
    def finder(r: Reading) -> tuple[str, str] | None:
        answer = find(r.closing) if r.closing is not None else None
        return (rule, answer) if answer else None

    return finder


def _find_no_value(r: Reading) -> tuple[str, str] | None:
    answer = None if r.dangling else no_value(r.text)
    return ("no_value", answer) if answer else None


def _find_program_output(r: Reading) -> tuple[str, str] | None:
    if r.dangling:
        return None
    answer = program_output(r.text)
    return ("program_output", answer) if answer else None


Finder = Callable[[Reading], "tuple[str, str] | None"]
# (name, the rules it may record, finder), in order of precedence: extract() takes the first answer found.
FINDERS: tuple[tuple[str, tuple[str, ...], Finder], ...] = (
    ("final_after_box", _FINAL_RULES + ("answer_line",), _find_final_after_box),
    ("boxed_unclosed", ("boxed_unclosed",), _find_boxed_unclosed),
    ("boxed", ("boxed",), _find_boxed),
    ("statement", STATEMENT_RULES, _find_statement),
    ("no_value", ("no_value",), _find_no_value),
    ("bold", ("bold",), _closing_finder("bold", bold_answer)),
    ("program_output", ("program_output",), _find_program_output),
    ("last_math", ("last_math",), _closing_finder("last_math", last_math)),
    ("last_number", ("last_number",), _closing_finder("last_number", last_number)),
)


@lru_cache(maxsize=64)
def _finders(rules: tuple[str, ...]) -> tuple[Finder, ...]:
    """The finders that may record one of `rules`, in FINDERS' order."""
    unknown = set(rules) - set(RULES)
    if unknown:
        raise ValueError(f"unknown extraction rule(s) {sorted(unknown)}; expected some of {', '.join(RULES)}")
    return tuple(find for _, produces, find in FINDERS if any(rule in rules for rule in produces))


def extract(response: str, rules: tuple[str, ...] = RULES) -> Extraction:
    """The final answer of a response and the rule that read it: the first of FINDERS (among `rules`) that
    finds one."""
    finders = _finders(RULES) if rules is RULES else _finders(tuple(rules))
    reading = Reading(response, rules)
    for find in finders:
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
        segments = math_segments(text)
        gaps = [text[a[1] : b[0]] for a, b in zip(segments, segments[1:], strict=False)]
        if (len(segments) > 1 and segments[0][0] == 0 and segments[-1][1] == len(text)
                and all(JOIN_GAP_RE.fullmatch(gap) for gap in gaps)):
            return ", ".join(content for _, _, content in segments)
    return strip_delimiters(gt)
