"""Prompt sets: reading the prompts of any source the stages take into PROMPTS records.

A source is a local .jsonl, .json or .parquet file, or anything ``datasets.load_dataset`` opens (a Hub
name, a local dataset folder) with a split. Each row becomes a PROMPTS record (``idx``, ``problem``,
``gt``, other keys carried along; ``idx`` is the row's 0-based position where the data has none).
Generation, merge and ppo_training/prepare_data.py all read prompts through here.

    python -c "from common.prompt_sets import load_prompts; print(load_prompts('p.jsonl')[0])"
"""

from __future__ import annotations

import logging
from pathlib import Path

from common.config import ConfigError
from common.records import PROMPTS, SAMPLES, RecordError, iter_jsonl

logger = logging.getLogger(__name__)

# Keys the sampling stage adds to a prompt record; a prompt's own key of the same name is replaced, with a warning.
ADDED_KEYS = tuple(k for k in SAMPLES.keys if k not in PROMPTS.required)


def load_rows(path: str, split: str = "train") -> list[tuple[int, dict]]:
    """``(line, row)`` pairs of a prompt source; ``line`` is the JSONL line, else the 1-based row number."""
    local = Path(path)
    if local.suffix in (".jsonl", ".json", ".parquet") and not local.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if local.is_file() and local.suffix == ".jsonl":
        rows = list(iter_jsonl(local))
    elif local.is_file() and local.suffix == ".parquet":
        import pyarrow.parquet

        rows = list(enumerate(pyarrow.parquet.read_table(local).to_pylist(), start=1))
    elif local.is_file() and local.suffix == ".json":  # a JSON array or JSON lines: datasets reads both
        import datasets

        rows = list(enumerate(datasets.load_dataset("json", data_files=str(local), split="train"), start=1))
    elif local.is_file():
        raise ConfigError(f"{path}: unsupported file type {local.suffix!r}; expected .jsonl, .json or .parquet")
    else:
        import datasets

        try:
            rows = list(enumerate(datasets.load_dataset(path, split=split), start=1))
        except (ConnectionError, FileNotFoundError) as e:  # offline, or no such dataset
            raise FileNotFoundError(f"{path}: not a local file, and datasets cannot load it: {e}") from e
    for line, row in rows:
        if not isinstance(row, dict):
            raise RecordError(path, line, f"expected a JSON object (a prompt), got {type(row).__name__}")
    return rows


def row_idx(row: dict, position: int):
    """A row's ``idx``: its own, or its 0-based position in the source when it has none."""
    return row.get("idx", position)


def to_prompt_record(row: dict, position: int, dataset_key: str, answer_key: str, path: str, line: int) -> dict:
    """A PROMPTS record: ``idx``, ``problem``, ``gt`` from the named fields, every other field carried."""
    for key in (dataset_key, answer_key):
        if key not in row:
            raise RecordError(path, line, f"missing field {key!r} (has {sorted(row)}); set --dataset_key/--answer_key")
    problem = row[dataset_key]
    if not isinstance(problem, str) or not problem.strip():
        raise RecordError(path, line, f"field {dataset_key!r} must be a non-empty string, got {problem!r}")
    carried = {k: v for k, v in row.items() if k not in (dataset_key, answer_key)}
    return {**carried, "idx": row_idx(row, position), "problem": problem, "gt": row[answer_key]}


def load_prompts(path: str, split: str = "train", dataset_key: str = "problem", answer_key: str = "gt") -> list[dict]:
    """The prompt records of ``path`` in source order; a repeated ``idx`` is an error naming both lines."""
    records, seen = [], {}
    for position, (line, row) in enumerate(load_rows(path, split)):
        record = to_prompt_record(row, position, dataset_key, answer_key, path, line)
        if record["idx"] in seen:
            raise RecordError(path, line, f"idx {record['idx']!r} repeats line {seen[record['idx']]}; idx must be unique")
        seen[record["idx"]] = line
        records.append(record)
    overwritten = sorted({k for r in records for k in r if k in ADDED_KEYS})
    if overwritten:
        logger.warning("%s: prompt field(s) %s are replaced by this stage's output of that name", path, overwritten)
    return records
