"""Answer statements: "the (final) answer is X", Minerva's "Final Answer: ... I hope it is correct.", `#### X`,
"Answer: X" lines and headings, `# Answer`; of each kind the last one in the text, with the answer read
after it (math, the value the words open with, or the value a sentence states); and where a base model's
continuation or a chat template's next turn begins.

    python -c "from annotate.grader.statements import latest_statement; print(latest_statement('So the answer is 36 cubes.'))"
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from annotate.grader import vocabulary as v
from annotate.grader.boxes import BOX_RE
from annotate.grader.closing import last_math, last_number
from annotate.grader.mathtext import (
    COMMAND_WITH_NAME,
    DELIMS,
    NAME_RE,
    find_close,
    is_prose,
    joined_values,
    leading_list,
    math_segments,
    strip_delimiters,
    value_of,
    word_count,
)
from annotate.grader.scan import outside_groups

STATEMENT_RULES = ("minerva", "final_answer_is", "answer_is", "gsm8k_hash", "answer_line", "prm800k")
_MINERVA_RE = re.compile(r"final\s+answer\s+is\s*:?\s*(.{1,400}?)\s*\.?\s*I\s+hope\s+it\s+is\s+correct", re.I | re.S)
# Answer phrases, found at their keyword (answer, result, option, choice, 答案) (_PHRASES below). Anchoring each
# phrase at its keyword lets one pass of a keyword search replace case-insensitive scans of the whole tail,
# which cost more than the rest of extraction.
_FOLLOW = r"(?:\s+(?:to|for|of)\b[^.\n$]{0,80}?)?\s*"
# What comes before a phrase's keyword is looked for in this many characters before it.
_LEAD_CHARS = 30
_LINE_OPENING = r"(?:^|\n|[:.!?]\s)[ \t*_#>]*$"


def _after_words(*words: str) -> tuple[re.Pattern, Callable[[str], bool]]:
    """One of `words` right before the keyword ("the answer", "so the answer"), and a test on the characters
    before it (ASCII, lower case) that fails wherever the pattern cannot match: a suffix test costs less than
    the pattern's search from each of those characters."""
    return re.compile(rf"\b{v.words_pattern(words)}\s+$", re.I), lambda before: before.rstrip().endswith(words)


def _opens_line(before: str) -> bool:
    """Whether _LINE_OPENING can match at the end of `before`: what it allows after its break stripped, a line
    break was stripped with it, or punctuation ends what is left, or nothing is left."""
    kept = before.rstrip(" \t*_#>\n\r\f\v\x1c\x1d\x1e\x1f")
    return not kept or kept[-1] in ":.!?" or "\n" in before[len(kept) :]


# (rule, what must come right before the keyword, a test that fails where that cannot match (None: always
# run the pattern), what must follow from the keyword, the keywords it can start with).
_PHRASES = (
    ("final_answer_is", *_after_words("final"),
     re.compile(rf"(?:answer|result)s?{_FOLLOW}(?:is|are|was|would\s+be|:|=)\s*:?", re.I), ("answer", "result")),
    ("answer_is", *_after_words("the", "my", "our", "correct", "so", "thus", "hence", "therefore", "therefore,"),
     re.compile(rf"answers?(?:\s+choice)?{_FOLLOW}(?:is|are|would\s+be|=)\s*:?", re.I), ("answer",)),
    ("answer_is", *_after_words("correct"), re.compile(rf"(?:option|choice){_FOLLOW}(?:is|are|would\s+be|=)\s*:?", re.I),
     ("option", "choice")),
    ("answer_is", re.compile(r"(?:最终)?$"), None, re.compile(r"答案(?:是|为)\s*[:：]?"), ("答案",)),
    # "Answer is X" opening a line or a sentence (a step of a worked answer): no article before it.
    ("answer_is", re.compile(_LINE_OPENING), _opens_line, re.compile(r"answer\s+(?:is|=)\s*:?", re.I), ("answer",)),
)
# The phrases that can start at each keyword, in _PHRASES' order.
_PHRASES_AT = {word: tuple((rule, before, may_lead, follows) for rule, before, may_lead, follows, words in _PHRASES
                           if word in words)
               for word in ("answer", "result", "option", "choice", "答案")}
# "check if the answer is 5": a hypothesis, not a statement.
_CONDITIONAL_RE, _MAY_BE_CONDITIONAL = _after_words("if", "whether")
_CONDITIONAL_CHARS = 12
_KEYWORDS = tuple(_PHRASES_AT)
_CONTINUATION_RE = re.compile(rf"\n[ \t]*{v.words_pattern(v.CONTINUATION_LABELS)}[ \t]*[:：]")
_CHAT_TOKEN_RE = re.compile("|".join(re.escape(t) for t in v.CHAT_TOKENS))
_CHAT_TOKEN_STARTS = tuple({t[:2] for t in v.CHAT_TOKENS})  # a substring test first: "<|"
_HASH_RE = re.compile(r"^[ \t]*####[ \t]*(\S[^\n]*?)[ \t]*$", re.M)
_ANSWER_LINE_RE = re.compile(r"^[\s#>*_]*(?:(?i:final\s+answer|answer)|A)[\s*_]*[:：][\s*_]*(\S.*)$")
_HEADING_RE = re.compile(r"^[ \t]*(#*)[ \t*_]*((?i:final\s+answer|answer))[ \t*_:]*$", re.M)
_PARAGRAPH_BREAK_RE = re.compile(r"\n\s*\n")
_HEDGE_RE = re.compile(rf"^(?:{v.words_pattern(v.HEDGE_WORDS)})\b\s*:?\s*", re.I)
# The words of an answer's tail that end its value: a word of two letters or more that is not math.
_LEAD_WORD = r"\\[A-Za-z]+|[A-Za-z]{2,}"
_VALUE_HINT_RE = re.compile(r"\d|\\(?!text|mbox|mathrm)[A-Za-z]")
# A verdict, a promise of an answer to come, or an answer not yet known, rather than an answer.
_NOT_AN_ANSWER_RE = re.compile(rf"^{v.words_pattern(v.VERDICT_WORDS)}(?!\w)", re.I)
_LEADING_BREAK_RE = re.compile(r"^\n\s*")
_WORD_RE = re.compile(r"[A-Za-z]{3,}")
_SENTENCE_RE = re.compile(r"(.+?)(?:\.(?=\s|$|\*)|。|\n|$)", re.S)


def _leading_value(s: str) -> str | None:
    """The value an answer's words open with, up to its first word that is not math: "36 cubes" -> 36,
    "45 - 21 = 24." -> 45 - 21 = 24, "2^99 trees with 100 nodes" -> 2^99, "5 or 6 apples" -> 5 or 6; None when
    the words open with a word ("Tom has 12") or hold no number or command."""
    stop = len(s)
    for m in outside_groups(s, _LEAD_WORD):
        token = m.group()
        if (token[1:] in v.WORD_COMMANDS if token[0] == "\\"
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
    segments = math_segments(s)
    if segments and not s[: segments[0][0]].strip():
        return segments[0][2] if len(segments) == 1 else (joined_values(s, segments) or segments[0][2])
    lead = _leading_value(s)
    if lead is not None:
        return value_of(lead) if lead.count("=") >= 2 else lead
    if segments and len(s[: segments[0][0]].split()) > 4:
        return None  # "the answer is independent of the choice of $x$"
    if segments or word_count(s) >= 3:
        value = last_math(s) if segments else last_number(s)
        return value if value and not NAME_RE.match(value) else None
    s = strip_delimiters(s).rstrip(".").strip()
    if not s or _NOT_AN_ANSWER_RE.match(s) or is_prose(s):
        return None
    return s


def _statement_answer(tail: str) -> str | None:
    """The answer stated right after an answer phrase: leading math whole, else the sentence's answer."""
    tail = tail.lstrip(" \t*_")
    tail = _LEADING_BREAK_RE.sub("", tail)  # "The answer is:\n\n$42$"
    box = BOX_RE.match(tail.lstrip("$\\[( "))
    if box is not None or tail.startswith(("$\\boxed", "\\[\\boxed", "\\(\\boxed")):
        return None  # a box written right after the phrase is read by the boxed rule
    for left, right in DELIMS:
        if tail.startswith(left):
            close = find_close(tail[len(left) :], right)
            if close <= 0:
                return None
            answer = tail[len(left) : len(left) + close].strip()
            # "$1$, $2$ and $3$": the answers of a list, each in its own math.
            listed = leading_list(tail[:600])
            if listed is not None:
                return listed
            return value_of(answer) if answer.count("=") >= 2 else answer
    m = _SENTENCE_RE.match(tail[:600])
    return _stated_answer(m.group(1)) if m else None


def keywords(text: str) -> list[tuple[int, str]]:
    """(start index, keyword) of the answer phrases' keywords in text (any case), in order: a substring search
    per keyword costs less than one regex scan for all of them."""
    lower = text.lower()
    found = []
    for word in _KEYWORDS:
        at = lower.find(word)
        while at >= 0:
            found.append((at, word))
            at = lower.find(word, at + 1)
    return sorted(found)


def _phrases(text: str, keyword_starts: list[tuple[int, str]]):
    """(start, end, rule) of each answer phrase of text, the last first."""
    for k, word in reversed(keyword_starts):
        window = text[max(0, k - _LEAD_CHARS) : k]
        # (the tests compare ASCII letters: other text may match the case-blind patterns otherwise)
        window = window.lower() if window.isascii() else ""
        for rule, before, may_lead, follows in _PHRASES_AT[word]:
            if window and may_lead is not None and not may_lead(window):
                continue
            body = follows.match(text, k)
            if body is None:
                continue
            lead = before.search(text, max(0, k - _LEAD_CHARS), k)
            if lead is not None:
                yield lead.start(), body.end(), rule


def latest_statement(text: str, keep: Callable[[int, str], bool] = lambda at, rule: True) -> tuple[int, str, str] | None:
    """(position, rule, answer) of the answer statement written last in text, among those `keep` accepts:
    the places are found first, then their answers are read from the last place backwards until one states
    an answer, so that statements written before it are never read (at one place, the kinds in the order
    Minerva's closing, phrases, `####`, answer lines)."""
    places = _places(text)
    for at, rule, answer_of in sorted(places, key=lambda place: -place[0]):  # stable: ties keep their order
        if keep(at, rule):
            answer = answer_of()
            if answer:
                return at, rule, answer
    return None


def _places(text: str) -> list[tuple[int, str, Callable[[], str | None]]]:
    """(position, rule, how to read its answer) of every place that may hold an answer statement."""
    places: list[tuple[int, str, Callable[[], str | None]]] = []
    minerva_spans = []
    hope = text.rfind("hope")
    if hope >= 0:
        # Minerva's closing ends the response: look for it before its last "I hope it is correct" only.
        start, end = max(0, hope - 600), hope + 40
        # Its match opens with "final": in ASCII text, where case-blind matching adds no other spelling, the
        # search starts at the first one.
        window = text[start:end]
        first = window.lower().find("final") if window.isascii() else 0
        for m in _MINERVA_RE.finditer(text, start + first, end) if first >= 0 else ():
            minerva_spans.append((m.start(), m.end()))
            places.append((m.start(), "minerva", partial(_minerva_answer, m.group(1))))
    starts = keywords(text)
    for start, end, rule in _phrases(text, starts):
        # Not inside a Minerva closing, not a hypothesis.
        if minerva_spans and any(a <= start < b for a, b in minerva_spans) or _conditional(text, start):
            continue
        places.append((start, rule, partial(_answer_after, text, end)))
    if "####" in text:
        for m in _HASH_RE.finditer(text):
            places.append((m.start(), "gsm8k_hash", partial(_hash_answer, m.group(1))))
    places.extend(_answer_lines(text, starts))
    return places


def _conditional(text: str, start: int) -> bool:
    """Whether "if" or "whether" comes right before text[start] (tested on ASCII text first, as phrases are)."""
    window = text[max(0, start - _CONDITIONAL_CHARS) : start]
    if window.isascii() and not _MAY_BE_CONDITIONAL(window.lower()):
        return False
    return _CONDITIONAL_RE.search(text, max(0, start - _CONDITIONAL_CHARS), start) is not None


def _minerva_answer(said: str) -> str | None:
    answer = strip_delimiters(said.strip().replace("**", ""))
    return answer if answer and not _NOT_AN_ANSWER_RE.match(answer) else None


def _answer_after(text: str, end: int) -> str | None:
    return _statement_answer(text[end:])


def _hash_answer(said: str) -> str | None:
    answer = strip_delimiters(said).strip()
    return answer if answer and not _WORD_RE.search(COMMAND_WITH_NAME.sub("", answer)) else None


def _last_lines(text: str, n: int) -> list[tuple[int, str]]:
    """(start, line) of the last n lines of text that hold more than white space."""
    found: list[tuple[int, str]] = []
    end = len(text)
    # The last few lines at once; the rest line by line where blank lines leave fewer than n.
    pieces = text.rsplit("\n", 2 * n)
    for piece in reversed(pieces[1:]):
        start = end - len(piece)
        if piece.strip():
            found.append((start, piece))
            if len(found) == n:
                return found[::-1]
        end = start - 1
    found.reverse()
    while end > 0 and len(found) < n:
        start = text.rfind("\n", 0, end) + 1
        if text[start:end].strip():
            found.insert(0, (start, text[start:end]))
        end = start - 1
    return found


def _answer_lines(text: str, keyword_starts: list[tuple[int, str]]) -> list[tuple[int, str, Callable[[], str | None]]]:
    """"Answer: X" on one of the last lines, and "Final Answer" / "# Answer" heading lines (found at their
    keywords) followed by X."""
    found = []
    for start, line in _last_lines(text, 3):
        m = _ANSWER_LINE_RE.match(line) if ":" in line or "：" in line else None
        if m:
            found.append((start, "answer_line", partial(_line_answer, m.group(1))))
    # A heading holds only marks after its word "answer": in ASCII text, where no other spelling of the word
    # matches it case-blind, a line is tried only where that is so at one of its keywords.
    ascii = text.isascii()
    lines = sorted({text.rfind("\n", 0, k) + 1 for k, word in keyword_starts
                    if not ascii or word == "answer" and not text[k + 6 : _line_end(text, k)].strip(" \t*_:")})
    for m in (_HEADING_RE.match(text, start, _line_end(text, start)) for start in lines):
        if m is None:
            continue
        rule = "prm800k" if m.group(1) == "#" and m.group(2).lower() == "answer" else "answer_line"
        found.append((m.start(), rule, partial(_heading_answer, text, m.end())))
    return found


def _heading_answer(text: str, end: int) -> str | None:
    rest = text[end:].strip()
    if not rest:
        return None
    # The answer is the next paragraph (a display may span lines), at most a few lines long.
    block = _PARAGRAPH_BREAK_RE.split(rest, maxsplit=1)[0]
    return None if block.count("\n") > 4 else _line_answer(block)


def _line_end(text: str, start: int) -> int:
    end = text.find("\n", start)
    return len(text) if end < 0 else end


def _line_answer(s: str) -> str | None:
    s = s.replace("**", "").strip()
    if BOX_RE.search(s):
        return None  # read by the boxed rule
    return _stated_answer(s)


def before_continuation(text: str) -> str:
    """The response up to the next problem or turn a base model went on to write after answering: a chat
    template's next turn ends the response wherever it comes; a "Question:" line, once an answer was given."""
    chat = _CHAT_TOKEN_RE.search(text) if any(start in text for start in _CHAT_TOKEN_STARTS) else None
    if chat is not None and text[: chat.start()].strip():
        text = text[: chat.start()]
    marker = _CONTINUATION_RE.search(text) if ":" in text or "：" in text else None  # a label ends with a colon
    if marker is None:
        return text
    first_box = BOX_RE.search(text)
    phrases = [start for start, _, _ in _phrases(text, keywords(text))]
    first_hash = _HASH_RE.search(text)
    marks = [m.start() for m in (first_box, first_hash) if m is not None] + phrases[-1:]
    if not marks:
        return text
    answered = min(marks)
    for m in _CONTINUATION_RE.finditer(text, answered):
        return text[: m.start()]
    return text
