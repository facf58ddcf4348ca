"""Boxes: the content of the last well-formed `\\boxed{}` / `\\fbox{}`, boxes joined on one closing line,
a box left open at the end, every box of a response (a question answered in parts). Braces are matched by
annotate/grader/scan.py; a box's end is found from the end of the text, so a long response costs no scan.

    python -c "from annotate.grader.boxes import last_boxed; print(last_boxed(r'so $\\boxed{\\frac{1}{2}}$.'))"
"""

from __future__ import annotations

import re

from annotate.grader import vocabulary as v
from annotate.grader.scan import group_end, groups_balance

# An unclosed box longer than this at the end is a cut expression, not an answer.
_MAX_UNCLOSED = 200
# How many unbalanced (truncated) boxes to step back over before giving up on the boxed form.
_MAX_BOX_TRIES = 8
BOX_RE = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_BOX_TOKEN_RE = re.compile(r"[^\s$]+")
_BOX_GAP_RE = re.compile(rf"{v.commands_pattern(v.WORD_COMMANDS)}\s*\{{\s*({v.words_pattern(v.JOIN_WORDS)})\s*\}}|\\q?quad|\\[,;]|\$|\\boxed\s*\{{?$")
_BOX_GAP_END_RE = re.compile(r"\\boxed\s*$|\\fbox\s*$")
_BOX_GAP_OK_RE = re.compile(r"(?:,|and|,\s*and)?", re.I)
_UNCLOSED_END_RE = re.compile(r"(?:\$+|\\\]|\\\)|\.)\s*$")


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
        m = BOX_RE.match(text, at)
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


def joined_boxes(text: str, content: str, end: int) -> str:
    """`\\boxed{1} and \\boxed{2}` at the end: the boxes of one final line joined only by commas and "and"
    are one answer, "1, 2"."""
    contents = [content]
    line_start = text.rfind("\n", 0, end - len(content)) + 1
    if text.count("\\boxed", line_start, end) + text.count("\\fbox", line_start, end) < 2:
        return content  # the line holds this box only
    starts = list(BOX_RE.finditer(text, line_start, end))[:-1]
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


def unclosed_box(text: str) -> str | None:
    """The content of a `\\boxed{` left open at the end of text, if it is whole."""
    tail_start = max(0, len(text) - _MAX_UNCLOSED - 16)
    if text.find("\\boxed", tail_start) < 0 and text.find("\\fbox", tail_start) < 0:
        return None  # (the common case, told by a substring search)
    starts = [m.end() for m in BOX_RE.finditer(text, tail_start)]
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


def boxes(text: str) -> list[str]:
    """The contents of the well-formed boxes of text, in order (the answers of a question in parts)."""
    found = []
    for m in BOX_RE.finditer(text):
        j = m.end()
        while j < len(text) and text[j] in " \t":
            j += 1
        end = group_end(text, j) if j < len(text) and text[j] == "{" else None
        if end is not None:
            found.append(text[j + 1 : end - 1].strip())
    return found
