"""The one bracket scanner: where a LaTeX group closes, what sits at the top level, how deep brackets nest.

Two views of the same text. As LaTeX *groups* only `{` and `}` count, and a backslash escapes the character
after it (`\\{` is a literal brace, `\\\\` a row break): this finds where `\\boxed{...}` ends. As *brackets*
`( [ {` and `) ] }` count and so do the set braces `\\{ \\}`: this splits `(1, 2), [3, 4)` at its top-level
commas and tells whether one pair of brackets encloses a whole answer. Each scan is one regular-expression
pass over the bracket tokens, so plain text between them costs next to nothing.

    python -c "from annotate.grader.scan import split_top; print(split_top(r'(1,2), \\{3,4\\}', ','))"
"""

from __future__ import annotations

import re
from functools import lru_cache

# LaTeX groups: an escape pair is skipped whole.
_GROUP_TOKENS = re.compile(r"\\.|[{}]", re.S)
# Brackets: \{ \} are brackets, any other escape pair is skipped whole.
_BRACKET_TOKENS = re.compile(r"\\[{}]|\\.|[(\[{)\]}]", re.S)
_OPENERS = frozenset(("(", "[", "{", "\\{"))
_CLOSERS = frozenset((")", "]", "}", "\\}"))


def group_end(text: str, start: int) -> int | None:
    """Index just past the `}` that closes the `{` at text[start], or None if it never closes."""
    depth = 0
    for m in _GROUP_TOKENS.finditer(text, start):
        token = m.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth == 0:
                return m.end()
    return None


def groups_balance(text: str) -> bool:
    """Whether every `{` of text is closed in order (escaped braces skipped)."""
    depth = 0
    for m in _GROUP_TOKENS.finditer(text):
        token = m.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def bracket_depth(text: str) -> int:
    """The deepest nesting of brackets in text."""
    depth = peak = 0
    for m in _BRACKET_TOKENS.finditer(text):
        token = m.group()
        if token in _OPENERS:
            depth += 1
            peak = max(peak, depth)
        elif token in _CLOSERS:
            depth -= 1
    return peak


@lru_cache(maxsize=64)
def _separator_tokens(sep: str) -> re.Pattern:
    return re.compile(r"\\[{}]|" + re.escape(sep) + r"|\\.|[(\[{)\]}]", re.S)


def top_level(text: str, sep: str) -> list[int]:
    """Start indices of `sep` in text outside every bracket."""
    found, depth = [], 0
    for m in _separator_tokens(sep).finditer(text):
        token = m.group()
        if token == sep:
            if depth == 0:
                found.append(m.start())
        elif token in _OPENERS:
            depth += 1
        elif token in _CLOSERS:
            depth -= 1
    return found


def split_top(text: str, sep: str) -> list[str]:
    """text split at `sep` outside brackets, each part stripped."""
    parts, start = [], 0
    for at in top_level(text, sep):
        parts.append(text[start:at].strip())
        start = at + len(sep)
    parts.append(text[start:].strip())
    return parts


def enclosed(text: str, left: str, right: str) -> bool:
    """Whether text is `left ... right` with the left bracket closed only by the last character."""
    if not (text.startswith(left) and text.endswith(right)) or len(text) < len(left) + len(right):
        return False
    depth = 0
    for m in _BRACKET_TOKENS.finditer(text, len(left), len(text) - len(right)):
        token = m.group()
        if token in _OPENERS:
            depth += 1
        elif token in _CLOSERS:
            depth -= 1
            if depth < 0:
                return False
    return depth == 0
