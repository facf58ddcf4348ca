"""Final-answer extraction: the last \\boxed{}/\\fbox{} of a response, else a documented fallback.

A response's answer is the content of its last well-formed `\\boxed{...}` or `\\fbox{...}` (balanced
braces, `\\{`/`\\}` escapes skipped; also the brace-less `\\boxed 5` form). When there is none, the
fallbacks in `DEFAULT_FALLBACKS` are tried in order (and a "final answer is X"
statement written after the last box overrides it); each is a name in `FALLBACKS`:

- "answer_is": the last "the (final) answer is X" / "Answer: X" / "final answer: X" statement, X taken up
  to the end of its sentence (a `$...$` right after the phrase is taken whole).
- "last_dollar": the last inline `$...$` of the response's last non-empty line (off by default: on a
  truncated or rambling response it picks up an intermediate result).

Ground truths go through `extract_gt`: a `\\boxed{}` inside is taken, then surrounding `$`, `\\(...\\)`,
`\\[...\\]` are removed, so gts and predictions are normalised alike.

    python -c "from annotate.extract import extract_answer; print(extract_answer(r'so $\\boxed{5}$.'))"
"""

from __future__ import annotations

import re

FALLBACKS = ("answer_is", "last_dollar")
DEFAULT_FALLBACKS: tuple[str, ...] = ("answer_is",)

_BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
# How many unbalanced (truncated) boxes to step back over before giving up on the boxed form.
_MAX_BOX_TRIES = 8
_ANSWER_IS_RE = re.compile(
    r"(?:final\s+answer|the\s+answer|answer)\s*(?:is\s*:?|:|=)\s*(?:\\\(|\$\$?|\\\[)?",
    re.IGNORECASE,
)
_FINAL_IS_RE = re.compile(r"final\s+answer\s+is", re.IGNORECASE)
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def _balanced(text: str, start: int) -> int | None:
    """Index just past the `}` closing the `{` at text[start], or None if it never closes."""
    depth = 0
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last well-formed \\boxed{}/\\fbox{} (or `\\boxed 5`), None if there is none."""
    found = _last_boxed_span(text)
    return found[0] if found else None


def _last_boxed_span(text: str) -> tuple[str, int] | None:
    """(content, end index) of the last well-formed box."""
    starts = [m.end() for m in _BOX_RE.finditer(text)]
    for pos in reversed(starts[-_MAX_BOX_TRIES:]):
        j = pos
        while j < len(text) and text[j] in " \t":
            j += 1
        if j < len(text) and text[j] == "{":
            end = _balanced(text, j)
            if end is not None:
                return text[j + 1 : end - 1].strip(), end
        elif j > pos:
            m = re.match(r"[^\s$]+", text[j:])
            if m:
                return m.group(0).rstrip(".,;"), j + m.end()
    return None


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


def _answer_is(text: str) -> str | None:
    matches = list(_ANSWER_IS_RE.finditer(text[-4000:]))
    if not matches:
        return None
    tail = text[-4000:][matches[-1].end() :]
    opener = matches[-1].group(0)
    for left, right in _DELIMS:
        if opener.rstrip().endswith(left):
            close = _find_close(tail, right)
            return tail[:close].strip() if close > 0 else None
    # Up to the end of the sentence: a period followed by space/end, or a line break.
    m = re.match(r"(.+?)(?:\.\s|\.$|\n|$)", tail.strip())
    answer = strip_delimiters(m.group(1).strip()) if m else ""
    return answer or None


def _last_dollar(text: str) -> str | None:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None
    found = re.findall(r"(?<!\\)\$((?:\\\$|[^$])+?)(?<!\\)\$", lines[-1])
    return found[-1].strip() if found else None


_FALLBACK_FUNCS = {"answer_is": _answer_is, "last_dollar": _last_dollar}


def extract_answer(response: str, fallbacks: tuple[str, ...] = DEFAULT_FALLBACKS) -> tuple[str | None, bool]:
    """(answer, boxed): the last boxed content, else the first fallback that finds one, else None.

    A "final answer is X" statement after the last box overrides it (the box held an intermediate
    result); `boxed` stays True.
    """
    found = _last_boxed_span(response)
    if found is not None:
        content, end = found
        if _FINAL_IS_RE.search(response, end):
            return _answer_is(response[end:]) or content, True
        return content, True
    for name in fallbacks:
        if name not in _FALLBACK_FUNCS:
            raise ValueError(f"unknown fallback {name!r}; expected one of {', '.join(FALLBACKS)}")
        found = _FALLBACK_FUNCS[name](response)
        if found:
            return found, False
    return None, False


def extract_gt(gt: str) -> str:
    """The ground truth as an answer string: its \\boxed{} content if it has one, delimiters removed."""
    boxed = last_boxed(gt)
    return strip_delimiters(boxed if boxed is not None else gt)
