"""The closing text of a response and the implicit rules that read it: the last paragraph with a digit or
math (code removed, pleasantries and a closing check stepped over, negated sentences dropped; nothing when
it asks a question or restates the task), and in it the bold answer, the last math, the last number; also
the last program output, and a final sentence saying there is no value. A response that stops mid-sentence
(`dangling`) has no closing answer.

    python -c "from annotate.grader.closing import last_number; print(last_number('So he needs 3 boxes for 24 cookies.'))"
"""

from __future__ import annotations

import re

from annotate.grader import vocabulary as v
from annotate.grader.mathtext import (
    INLINE_MATH_RE,
    JOIN_GAP_RE,
    MATH_RE,
    NAME_RE,
    NUMBER_RE,
    joined_values,
    math_segments,
    strip_delimiters,
    value_of,
    word_count,
)
from annotate.grader.numbers import word_number

# Statements are looked for in this tail of the response; the closing text in this (shorter) one.
TAIL_CHARS = 4000
_CLOSING_CHARS = 1500
# A response that stops mid-sentence or mid-formula: what it ends on is not a final answer.
_DANGLING_WORDS = frozenset(v.DANGLING_WORDS)
_DANGLING_COMMANDS = frozenset(v.DANGLING_COMMANDS)
_DANGLING_MARKS = tuple("+-/=,:([{^&")
_LAST_WORD_RE = re.compile(r"(\\?)([A-Za-z]+)$")
_OUTPUT_RE = re.compile(r"```output[ \t]*\n(.*?)```", re.S)
_CODE_RE = re.compile(r"```.*?(?:```|$)", re.S)
_BOLD_RE = re.compile(r"\*\*(?!\s)([^*\n]{1,120}?)(?<!\s)\*\*")
_HAS_MATH_RE = re.compile(r"\d|\$|\\\(|\\\[")
_COUNT_BEFORE_RE = re.compile(
    rf"\b(?:{v.words_pattern(v.COUNT_PREPOSITIONS)}\s+(?:[A-Za-z]+\s+)?|to\s+[A-Za-z]+\s+)$", re.I
)
_RESULT_OF_RE = re.compile(rf"\b{v.words_pattern(v.RESULT_NOUNS)}\s+of\s+$", re.I)
_COUNTED_AFTER_RE = re.compile(r"\s+([a-z]{2,})\b")
_LINKING = frozenset(v.LINKING_WORDS)
_NUMBER_WORD_RE = re.compile(
    rf"\b(?:({v.words_pattern(v.PRONOUN_ONE)})\s+)?((?:{v.words_pattern(v.TENS_WORDS)}(?:[- ]{v.words_pattern(v.NUMBER_WORDS[1:10])})?"
    rf"|{v.words_pattern(v.NUMBER_WORDS)}))\b",
    re.I,
)
_NO_VALUE_LAST_WORDS = tuple({phrase.split()[-1] for phrase in v.NO_VALUE_PHRASES})
_NO_VALUE_RE = re.compile(rf"\b({v.words_pattern(v.NO_VALUE_PHRASES)})[\s.!*$]*$", re.I)
# A closing sentence that asks or sets the problem rather than answering it.
_QUESTION_START_RE = re.compile(rf"^\W*{v.words_pattern(v.TASK_WORDS)}\b", re.I)
_PROBLEM_LABEL_RE = re.compile(rf"^\W*{v.words_pattern(v.PROBLEM_LABELS)}\s*\d*\s*[:.]", re.I)
_RESULT_RE = re.compile(rf"\b{v.words_pattern(v.RESULT_WORDS)}\b|=\s*-?\d[\d,.]*\W*$", re.I)
_CHECK_RE = re.compile(rf"^\W*(?:{v.words_pattern(v.CHECK_SUBJECTS)}\s+(?:[a-z]+\s+)?)?{v.words_pattern(v.CHECK_VERBS)}\b", re.I)
_LABEL_RE = re.compile(rf"^{v.words_pattern(v.LABEL_WORDS)}\b(?:\s*\d+)?\W*$", re.I)
_NEGATION_RE = re.compile(rf"\b{v.words_pattern(v.NEGATION_WORDS)}\b|n't\b|\\neq?(?![A-Za-z])|≠", re.I)
# Sentence breaks: white space after . ! or ? (before what opens a sentence). Each match starts at the
# punctuation, which stays with the sentence before it (`_split_sentences`): a scan for the punctuation is
# faster than a look-behind tried at every position.
_SENTENCE_SPLIT_RE = re.compile(r"[.!?]\s+(?=[A-Z*$\\])")
_SENTENCE_END_RE = re.compile(r"[.!?]\s+")
_BOLD_SENTENCE_SPLIT_RE = re.compile(r"[.!?]\s+(?=[A-Z*])")
# A clause that justifies the answer stated before it: "x = 3, since $3^2 = 9$", "..., where $r = 6$".
# Lower case only: a sentence that opens with "Since ..." states its answer after the clause.
_JUSTIFICATION_RE = re.compile(rf",?\s+{v.words_pattern(v.JUSTIFICATION_WORDS)}\b")
# A number that labels a part of the solution rather than stating a value: "step 2", "part (b) 3". The word
# is looked for where it must end (before white space and an opening parenthesis), in a window its length.
_ORDINAL_WORD_RE = re.compile(rf"\b{v.words_pattern(v.ORDINAL_WORDS)}$", re.I)
_ORDINAL_CHARS = max(map(len, v.ORDINAL_WORDS))
_LETTER_START_RE = re.compile(r"[A-Za-z]")
_MATH_HINT_RE = re.compile(r"\d|\\|\$|[=^]")
_STATED_AFTER_RE = re.compile(r"\d|\$|\\\(|\\\[|```")
# "x = " right before a value in plain text: a name given the value.
_ASSIGNED_RE = re.compile(r"(?<![\w\\])([A-Za-z])\s*=\s*$")
_PARAGRAPH_BREAK_RE = re.compile(r"\n[ \t]*\n")


def _split_sentences(breaks: re.Pattern, text: str) -> list[str]:
    """text split at its sentence breaks (matches of `breaks`), each sentence with its closing punctuation."""
    pieces, start = [], 0
    for m in breaks.finditer(text):
        pieces.append(text[start : m.start() + 1])
        start = m.end()
    pieces.append(text[start:])
    return pieces


def closing_text(text: str) -> str | None:
    """The last paragraph that holds a digit or math, code removed; None when it asks a question."""
    tail = text[-_CLOSING_CHARS * 2 :]
    if "```" in tail:
        tail = _CODE_RE.sub("\n\n", tail)
    paragraphs = [p for p in _PARAGRAPH_BREAK_RE.split(tail) if p.strip()]
    for skipped, paragraph in enumerate(reversed(paragraphs)):
        if _CHECK_RE.match(paragraph) and skipped < 2:
            continue  # "Check: 2(4) + 3 = 11": a verification restates the problem's numbers, not the answer
        if _HAS_MATH_RE.search(paragraph):
            paragraph = paragraph[-_CLOSING_CHARS:].strip()
            if _asks(paragraph):
                return None
            # "The answer is not 5.", "x cannot be 3": a negated value is no answer.
            kept = [s for s in _split_sentences(_SENTENCE_SPLIT_RE, paragraph) if not _negated(s)]
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
    plain = INLINE_MATH_RE.sub("M", paragraph).strip()
    sentences = [s for s in _split_sentences(_SENTENCE_END_RE, plain) if s.strip()]
    if not sentences:
        return False
    last = sentences[-1].rstrip("*_ ")
    # "Find x if 2x = 20." restates the task; "Solve for x: 2x = 8, so x = 4." and "Compute: 3 * 4 = 12" answer it.
    task = bool(_QUESTION_START_RE.match(last)) and not _RESULT_RE.search(last)
    return last.endswith("?") or task or bool(_PROBLEM_LABEL_RE.match(sentences[0]))


def _final_clause(closing: str) -> str:
    """The closing text without its last sentence's trailing justification ("..., since $k^2 = 9$.")."""
    sentences = _split_sentences(_SENTENCE_SPLIT_RE, closing.strip())
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
              and not NAME_RE.match(content)]
    if valued and "=" not in valued[-1][1]:
        return None  # "$40$ daps are equal to 70 yaps": a value set in math is the one the sentence states
    after = valued[-1][0] if valued else sentence_start
    plain = MATH_RE.sub(lambda m: " " * len(m.group(0)), closing[after:]).replace("**", "  ")
    numbers = [m for m in NUMBER_RE.finditer(plain) if not _LETTER_START_RE.match(plain[m.end() : m.end() + 1])
               and not _after_ordinal(plain, m.start())]
    return numbers[-1].group(0).replace(",", "") if numbers else None


def _after_ordinal(text: str, end: int) -> bool:
    """Whether a word naming a part of the solution ("step", "part (") comes right before text[end]."""
    if end > 0 and text[end - 1] == "(":
        end -= 1
    while end > 0 and text[end - 1].isspace():
        end -= 1
    return _ORDINAL_WORD_RE.search(text, max(0, end - _ORDINAL_CHARS), end) is not None


def _counts_a_thing(text: str, start: int, end: int) -> bool:
    """Whether the value at text[start:end] counts the thing named after it in a phrase that sets a
    condition ("... trees with 100 nodes", "each of the 4 friends"), not the result ("a total of 21")."""
    before = text[max(0, start - 40) : start]
    after = _COUNTED_AFTER_RE.match(text, end)
    return (after is not None and after.group(1) not in _LINKING and bool(_COUNT_BEFORE_RE.search(before))
            and not _RESULT_OF_RE.search(before))


def _plain_values(text: str) -> list[re.Match]:
    """The plain-text values of text (math left out), in order."""
    plain = MATH_RE.sub(lambda m: " " * len(m.group(0)), text).replace("**", "  ")
    return list(NUMBER_RE.finditer(plain))


def last_math(closing: str) -> str | None:
    closing = _final_clause(closing)
    segments = math_segments(closing)
    if not segments:
        return None
    number = _number_after_math(closing, segments)
    if number is not None:
        return number
    joined = joined_values(closing, segments)
    if joined is not None:
        return joined
    # "so $5$ is the value of $x$": a bare name yields to an earlier expression that holds a value.
    for start, end, content in reversed(segments):
        if content and not NAME_RE.match(content):
            if _counts_a_thing(closing, start, end):
                # "there are 2^{99} trees on $100$ nodes": the value the sentence states is the other one.
                splits = list(_SENTENCE_SPLIT_RE.finditer(closing[:start]))
                sentence_start = splits[-1].end() if splits else 0
                stated = [m for m in _plain_values(closing[sentence_start:start])
                          if not _counts_a_thing(closing, sentence_start + m.start(), sentence_start + m.end())]
                if stated:
                    return stated[-1].group(0).replace(",", "")
            return value_of(content)
    return segments[-1][2] or None


def last_number(closing: str) -> str | None:
    """The last plain value of the closing text, passing over one that counts the thing named after it when
    the sentence states another ("2^99 trees with 100 nodes" -> 2^99); values of one unknown joined at the
    end ("x = 2 or x = -3", as "$x = 2$ or $x = -3$" in math) are read together: "2, -3"."""
    plain = closing.replace("**", "  ")
    numbers = list(NUMBER_RE.finditer(plain))
    if not numbers:
        return None
    joined = _joined_assignments(plain, numbers)
    if joined is not None:
        return joined
    splits = list(_SENTENCE_SPLIT_RE.finditer(plain))
    sentence_start = splits[-1].end() if splits else 0
    last = numbers[-1]
    if last.start() >= sentence_start and _counts_a_thing(plain, last.start(), last.end()):
        stated = [m for m in numbers if m.start() >= sentence_start and not _counts_a_thing(plain, m.start(), m.end())]
        if stated:
            last = stated[-1]
    return last.group(0).replace(",", "")


def _joined_assignments(plain: str, numbers: list[re.Match]) -> str | None:
    """"x = 2 or x = -3" ending the text: the values of the trailing run of one name's assignments, joined
    only by ",", "and", "or"; None unless there are two or more and nothing but punctuation follows."""
    if plain[numbers[-1].end() :].strip(" \t\n.!;*"):
        return None
    values, name, end = [], None, None
    for m in reversed(numbers):
        assigned = _ASSIGNED_RE.search(plain, max(0, m.start() - 16), m.start())
        if assigned is None or name is not None and assigned.group(1) != name:
            break
        if end is not None and not JOIN_GAP_RE.fullmatch(plain[m.end() : end]):
            break
        name, end = assigned.group(1), assigned.start()
        values.insert(0, m.group(0).replace(",", ""))
    return ", ".join(values) if len(values) > 1 else None


def bold_answer(closing: str) -> str | None:
    last_sentence = _split_sentences(_BOLD_SENTENCE_SPLIT_RE, closing.strip())[-1]
    for m in reversed(list(_BOLD_RE.finditer(last_sentence))):
        if m.group(1).rstrip().endswith(":") or last_sentence[m.end() :].lstrip().startswith(":"):
            continue  # a label ("**Step 4:**", "**Answer**:"), not an answer
        answer = m.group(1).strip().rstrip(".,")
        if not answer or _LABEL_RE.match(answer) or len(answer.split()) > 12:
            continue
        if word_count(answer) >= 3:
            # "**Therefore, there are 7 apples.**": the value the bold sentence ends on.
            value = last_math(answer) or last_number(answer)
            if value:
                return value
            continue
        if _MATH_HINT_RE.search(answer) or len(answer.split()) <= 3:
            return value_of(strip_delimiters(answer)) if "=" in answer else strip_delimiters(answer)
    return None


def program_output(text: str) -> str | None:
    tail = text[-TAIL_CHARS:]
    if "```output" not in tail:
        return None
    blocks = list(_OUTPUT_RE.finditer(tail))
    if not blocks:
        return None
    after = tail[blocks[-1].end() :]
    if _STATED_AFTER_RE.search(after):
        return None  # something is stated after the output: the later rules read it
    # "Three trucks will be needed.": a count stated in words after the output is the answer.
    words = [m for m in _NUMBER_WORD_RE.finditer(after) if not (m.group(1) and m.group(2).lower() == "one")]
    if words:
        return str(word_number(words[-1].group(2)))
    lines = [line.strip() for line in blocks[-1].group(1).splitlines() if line.strip()]
    if not lines or len(lines[-1]) > 200:
        return None
    return lines[-1]


def no_value(text: str) -> str | None:
    """"... so the limit does not exist.": a final sentence that says there is no value gives that answer."""
    end = text[-80:].rstrip()
    core = end.rstrip(".!*$ ")
    while core and (core[-1].isspace() or core[-1] in ".!*$"):
        core = core[:-1]
    if core.isascii() and not core.lower().endswith(_NO_VALUE_LAST_WORDS):
        return None  # (a phrase ends the text: its last word first, the cheap test)
    m = _NO_VALUE_RE.search(end)
    return v.NO_VALUE_PHRASES[" ".join(m.group(1).lower().split())] if m else None


def dangling(text: str) -> bool:
    end = text[-40:].rstrip()
    if end.endswith(_DANGLING_MARKS):
        return True
    word = _LAST_WORD_RE.search(end)
    if word is None:
        return False
    if word.group(1):
        return word.group(2) in _DANGLING_COMMANDS
    return word.group(2).lower() in _DANGLING_WORDS and (word.start() == 0 or not end[word.start() - 1].isalnum())
