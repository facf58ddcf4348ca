"""The JSONL records that stages exchange: key names, validated readers, atomic writers.

Every stage reads and writes through this module, so a record's keys are defined here and nowhere else;
docs/records.md describes each key (tests/test_records_doc.py holds it to this module). Readers stream
and report a bad line as ``file:line: what was expected``; writers go to a temporary file in the same
directory and rename it when complete, so a file that exists is whole.

    from common.records import SAMPLES, iter_records, write_jsonl
    for record in iter_records("samples.jsonl", SAMPLES):
        ...
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any


@dataclass(frozen=True)
class Schema:
    """The keys a record kind must have; ``lists`` must hold JSON lists of one common length.

    ``optional_lists`` may be absent (unknown: the original recipe's files lack them); when present they
    are checked like ``lists``. With ``idx_from_line`` a record without ``idx`` gets its 0-based line
    number (its position in a JSON array file), so files from the original recipe, which have no ids,
    can be read and their records still named.
    """

    name: str
    required: tuple[str, ...]
    lists: tuple[str, ...] = ()
    optional_lists: tuple[str, ...] = ()
    idx_from_line: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key this schema names, required or optional."""
        return self.required + tuple(k for k in self.lists + self.optional_lists if k not in self.required)


PROMPTS = Schema("prompts", ("idx", "problem", "gt"))
# Samples: the prompt record (``problem`` and other prompt keys carried along when generation wrote it)
# plus the rendered ``prompt`` and K ``responses``; ``finish_reasons`` ("stop"/"length") and
# ``num_tokens`` are optional. The original recipe's ``{prompt, responses, gt}`` records are samples.
# A prompt that generation/sample.py could not sample (``DROPPED`` says why; today only a prompt at or
# over the context length) is kept as a record with empty lists, so no prompt is lost unaccounted for.
SAMPLES = Schema(
    "samples", ("idx", "gt", "prompt", "responses"), lists=("responses",),
    optional_lists=("finish_reasons", "num_tokens"), idx_from_line=True,
)
DROPPED = "dropped"
PROMPT_TOO_LONG = "prompt_too_long"
LABELED = Schema(
    "labeled", SAMPLES.required + ("rewards",), lists=("responses", "rewards"),
    optional_lists=SAMPLES.optional_lists + ("correct", "extracted"), idx_from_line=True,
)
# TRL's preference keys, as in the original's pairs; annotate/pairs.py also writes ``idx``,
# ``chosen_reward``, ``rejected_reward`` and ``margin``.
PAIRS = Schema("pairs", ("prompt", "chosen", "rejected"))
# SFT: the warm-up's worked solutions; RAFT: one correct response per prompt (drawn uniformly), with its reward.
SFT = Schema("sft", ("idx", "prompt", "completion"))
RAFT = Schema("raft", SFT.required + ("reward",))
# Eval: one record per problem; ``scores`` by our grader, ``scores_compat`` by its ``qwen`` profile (the
# scorer of the original's published table), ``disagrees`` when the two differ on any response.
EVAL = Schema(
    "eval",
    ("idx", "problem", "gt", "prompt", "responses", "preds", "scores", "scores_compat", "disagrees"),
    lists=("responses", "preds", "scores", "scores_compat"),
)


# What the items of list keys must be, checked per item so that a bad item is reported by file, line
# and key instead of failing deep inside the grader or a pair strategy. Bools are not numbers here.
ITEM_TYPES: dict[str, tuple[type, ...]] = {
    "responses": (str,),
    "finish_reasons": (str, type(None)),
    "num_tokens": (int,),
    "rewards": (int, float),
    "correct": (bool,),
    "extracted": (str, type(None)),
    "scores": (bool,),
    "scores_compat": (bool,),
}


class RecordError(ValueError):
    """A record that does not match its schema; the message names the file and line."""

    def __init__(self, path: str | os.PathLike, line: int, message: str):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}")


def check_record(record: Any, schema: Schema, path: str | os.PathLike = "<record>", line: int = 0) -> dict:
    """Return ``record`` if it has every key of ``schema`` with lists where lists are due; else raise."""
    if not isinstance(record, dict):
        raise RecordError(path, line, f"expected a JSON object ({schema.name} record), got {type(record).__name__}")
    if schema.idx_from_line and "idx" not in record:
        record = {"idx": line - 1, **record}
    missing = [key for key in schema.required if key not in record]
    if missing:
        raise RecordError(path, line, f"missing key {missing[0]!r} ({schema.name} records need {list(schema.required)})")
    lengths = {}
    for key in schema.lists + tuple(k for k in schema.optional_lists if k in record):
        if not isinstance(record[key], list):
            raise RecordError(path, line, f"key {key!r} must be a list, got {type(record[key]).__name__}")
        lengths[key] = len(record[key])
        types = ITEM_TYPES.get(key)
        for position, item in enumerate(record[key] if types else ()):
            if not isinstance(item, types) or (isinstance(item, bool) and bool not in types):
                names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
                raise RecordError(path, line, f"key {key!r}[{position}] must be {names}, got {item!r:.60}")
    if len(set(lengths.values())) > 1:
        raise RecordError(path, line, f"lists of different lengths: {lengths}")
    return record


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for each non-blank line; a line that is not JSON raises RecordError.

    A file that starts with ``[`` is one JSON array (the original recipe's labeled file is
    ``json.dump(all_data, indent=4)``): its items come with their 1-based position as the "line".
    """
    with open(path, encoding="utf-8") as f:
        if _starts_array(f):
            try:
                items = json.load(f)
            except json.JSONDecodeError as e:
                raise RecordError(path, e.lineno, f"not a valid JSON array ({json_problem(e)})") from None
            if not isinstance(items, list):
                raise RecordError(path, 1, "expected one JSON array or JSON lines")
            yield from enumerate(items, start=1)
            return
        for line_number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                # without its line break, so that a string left open is reported where it starts, not as
                # the "invalid control character" that the break would be inside it
                yield line_number, json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as e:
                raise RecordError(path, line_number, f"not valid JSON ({json_problem(e)})") from None


def json_problem(e: json.JSONDecodeError) -> str:
    """The decoder's message and column: "Unterminated string starting at column 7" (its messages that end
    in "at" get no second one)."""
    return f"{e.msg.removesuffix(' at')} at column {e.colno}"


def _starts_array(f: IO[str]) -> bool:
    """Whether the first non-blank character of ``f`` is ``[``; rewinds ``f``."""
    while (char := f.read(1)) and char.isspace():
        pass
    f.seek(0)
    return char == "["


def iter_records(path: str | os.PathLike, schema: Schema | None = None) -> Iterator[dict]:
    """Stream the records of a JSONL file, each checked against ``schema`` when one is given."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    for line_number, value in iter_jsonl(path):
        if schema is None:
            if not isinstance(value, dict):
                raise RecordError(path, line_number, f"expected a JSON object, got {type(value).__name__}")
            yield value
        else:
            yield check_record(value, schema, path, line_number)


def read_records(path: str | os.PathLike, schema: Schema | None = None) -> list[dict]:
    return list(iter_records(path, schema))


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only if the block completes.

    Folders made for it are removed again, when empty, if the block fails: a failed stage leaves nothing.
    """
    path = Path(path)
    made = [folder for folder in path.parents if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; run outputs are shared like any other
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):  # not empty: another writer's files are there now
                folder.rmdir()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def dumps(record: dict) -> str:
    """One JSONL line; non-ASCII kept readable, as model text often is."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Write ``records`` atomically (streaming); return how many were written."""
    count = 0
    with atomic_open(path) as f:
        for record in records:
            f.write(dumps(record))
            count += 1
    return count


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write one JSON document (stats, metrics, summaries) atomically, indented for reading."""
    with atomic_open(path) as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")
