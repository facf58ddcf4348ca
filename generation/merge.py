"""Join the shards of generation/sample.py into one SAMPLES file, in the prompts' original order.

    python generation/merge.py --shard_dir runs/demo/iter_1/shards --my_world_size 2 \\
        --output_file runs/demo/iter_1/samples.jsonl --dataset_name_or_path runs/demo/assets/task/iter_1.jsonl

Every shard_<i>_of_<w>.jsonl must exist and hold the number of prompts the shard rule gives it, and every
idx must appear exactly once; with --dataset_name_or_path, every prompt of the data must be there too.
Otherwise the merge fails naming the missing shard or prompts and writes nothing. A prompt that
sample.py did not sample (too long for the context) is in its shard as a record with empty lists and a
``dropped`` reason: it is accounted for, kept in the merged file, and named in a warning.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from common.config import ConfigError, run_cli
from common.paths import DATA, OUTPUT_FILE
from common.prompt_sets import load_rows, row_idx
from common.records import DROPPED, SAMPLES, read_records, write_jsonl
from generation.sample import shard_path, shard_positions

logger = logging.getLogger(__name__)

SHOWN = 10  # at most this many missing or repeated idx are named in an error


@dataclass
class MergeArgs:
    PATHS: ClassVar[dict[str, str]] = {"output_file": OUTPUT_FILE, "dataset_name_or_path": DATA}

    shard_dir: str = field(metadata={"help": "folder holding shard_<i>_of_<w>.jsonl"})
    my_world_size: int = field(metadata={"help": "number of shards w the prompts were split into"})
    output_file: str = field(metadata={"help": "merged SAMPLES JSONL to write"})
    dataset_name_or_path: str | None = field(
        default=None, metadata={"help": "the prompts that were sampled: check that none is missing, keep their order"}
    )
    split: str = field(default="train", metadata={"help": "split, when the prompts come from datasets.load_dataset"})

    def __post_init__(self):
        if self.my_world_size < 1:
            raise ConfigError(f"my_world_size must be >= 1, got {self.my_world_size}")


def _named(values) -> str:
    values = list(values)
    more = f" and {len(values) - SHOWN} more" if len(values) > SHOWN else ""
    return ", ".join(repr(v) for v in values[:SHOWN]) + more


def read_shards(shard_dir: str | Path, world_size: int) -> list[list[dict]]:
    """Every shard's records; a missing shard fails naming all that are missing."""
    paths = [shard_path(shard_dir, i, world_size) for i in range(world_size)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ConfigError(f"{len(missing)} of {world_size} shard(s) missing (failed or not run): {', '.join(missing)}")
    return [read_records(p, SAMPLES) for p in paths]


def interleave(shards: list[list[dict]]) -> list[dict]:
    """Undo the strided shard rule: the records in the order of the prompts they came from.

    Each shard must hold exactly as many records as the rule gives it out of the total; a shard from
    another run (other data, other world size) fails here.
    """
    total, world_size = sum(len(s) for s in shards), len(shards)
    ordered: list[dict | None] = [None] * total
    for index, shard in enumerate(shards):
        positions = shard_positions(total, index, world_size)
        if len(shard) != len(positions):
            raise ConfigError(
                f"shard {index} of {world_size} holds {len(shard)} records; the {total} records of all shards "
                f"give it {len(positions)}: the shards come from different runs"
            )
        for position, record in zip(positions, shard, strict=True):
            ordered[position] = record
    return ordered


def merge(shards: list[list[dict]], expected_idx: list | None = None) -> list[dict]:
    """The merged records: each idx once, in prompt order (``expected_idx``'s order when given)."""
    records = interleave(shards)
    counts = Counter(r["idx"] for r in records)
    repeated = [idx for idx, n in counts.items() if n > 1]
    if repeated:
        raise ConfigError(f"{len(repeated)} idx appear in more than one record: {_named(repeated)}")
    if expected_idx is None:
        return records
    missing = [idx for idx in expected_idx if idx not in counts]
    if missing:
        raise ConfigError(f"{len(missing)} of {len(expected_idx)} prompts have no samples: idx {_named(missing)}")
    unexpected = set(counts) - set(expected_idx)
    if unexpected:
        raise ConfigError(f"{len(unexpected)} sampled idx are not in the prompts: {_named(sorted(unexpected, key=str))}")
    by_idx = {r["idx"]: r for r in records}
    return [by_idx[idx] for idx in expected_idx]


def main(args: MergeArgs) -> None:
    shards = read_shards(args.shard_dir, args.my_world_size)
    expected = None
    if args.dataset_name_or_path is not None:
        rows = load_rows(args.dataset_name_or_path, args.split)
        expected = [row_idx(row, position) for position, (_, row) in enumerate(rows)]
    records = merge(shards, expected)
    write_jsonl(args.output_file, records)
    dropped = Counter(r[DROPPED] for r in records if r.get(DROPPED))
    logger.info("merged %d shards into %s: %d prompts, %d sampled", args.my_world_size, args.output_file,
                len(records), len(records) - sum(dropped.values()))
    for reason, count in dropped.items():
        logger.warning("%d prompts were not sampled (%s): idx %s", count, reason,
                       _named(r["idx"] for r in records if r.get(DROPPED) == reason))


if __name__ == "__main__":
    run_cli(main, [MergeArgs])
