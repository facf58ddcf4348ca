"""Any prompt set the DPO recipe takes -> verl's RL parquet files (train.parquet, val.parquet).

    python ppo_training/prepare_data.py --dataset_name_or_path RLHFlow/numia_prompt_dpo1 \\
        --output_dir data/verl_numina --prompt_type online-dpo-r1 --val_size 500

Prompts are read exactly as generation/sample.py reads them (a .jsonl/.json/.parquet file or a Hub
dataset with --split; fields named by --dataset_key/--answer_key, ``idx`` kept or set to the row
position). Each becomes one row in verl's schema (verl's examples/data_preprocess/*.py):

    data_source   --data_source (verl groups validation metrics by it)
    prompt        the chat messages of --prompt_type (common.prompts.chat_messages): verl renders them
                  with the tokenizer's chat template, which gives the same tokens as the DPO sampler
    ability       "math"
    reward_model  {"style": "rule", "ground_truth": gt as a string}
    extra_info    {"split", "index" (row number in its split: verl's sample index), "idx", "problem"}

The ground-truth audit runs first (annotate/audit.py); prompts whose gt fails it are dropped and listed
in ``prepare_stats.json``. ``--val_dataset_name_or_path`` gives a validation set; without one,
``--val_size`` prompts are drawn from the set (seeded). Both files are written atomically, and the
counts are logged.

Runs in the training environment (.venv): it needs datasets/pyarrow and TRL's argument parser, not verl.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from annotate.audit import DEFAULT_MAX_FAIL_SHARE, AuditFailed, audit, run_audited_cli
from annotate.label import gt_text
from common.config import ConfigError
from common.prompt_sets import load_prompts
from common.prompts import INSTRUCTION, PROMPT_TYPES, chat_messages, check_prompt_type
from common.records import atomic_open, write_json

logger = logging.getLogger(__name__)

ABILITY = "math"


@dataclass
class PrepareArgs:
    dataset_name_or_path: str = field(
        metadata={"help": "prompts: a .jsonl/.json/.parquet file, or a dataset name or folder for datasets.load_dataset"}
    )
    output_dir: str = field(metadata={"help": "folder for train.parquet, val.parquet and prepare_stats.json"})
    split: str = field(default="train", metadata={"help": "split to load when datasets.load_dataset is used"})
    dataset_key: str = field(default="problem", metadata={"help": "field of the data holding the problem"})
    answer_key: str = field(default="gt", metadata={"help": "field of the data holding the reference answer"})
    prompt_type: str = field(
        default="online-dpo-r1",
        metadata={"help": f"prompt format, one of {PROMPT_TYPES} with chat messages (verl always applies the "
                          "chat template): the DPO recipe's is online-dpo-r1"},
    )
    instruction: str = field(default=INSTRUCTION, metadata={"help": "instruction of the 'chat' prompt type"})
    data_source: str = field(default="", metadata={"help": "data_source of every row; default: the dataset's name"})
    val_dataset_name_or_path: str = field(
        default="", metadata={"help": "validation prompts (same reader); default: --val_size drawn from the set"}
    )
    val_split: str = field(default="test", metadata={"help": "split of --val_dataset_name_or_path for load_dataset"})
    val_size: int = field(default=500, metadata={"help": "prompts moved to val.parquet when no validation set is given"})
    seed: int = field(default=42, metadata={"help": "seed of the validation draw"})
    audit: bool = field(default=True, metadata={"help": "run the ground-truth audit and drop the prompts that fail it"})
    max_fail_share: float = field(
        default=DEFAULT_MAX_FAIL_SHARE,
        metadata={"help": "more than this share of ground truths failing the audit stops (exit 1, nothing written)"},
    )
    num_workers: int = field(default=1, metadata={"help": "processes for the audit's symbolic grading"})

    def __post_init__(self):
        check_prompt_type(self.prompt_type)
        try:
            chat_messages("x", self.prompt_type, self.instruction)
        except ValueError:
            raise ConfigError(
                f"prompt_type {self.prompt_type!r} is not a list of chat messages, and verl renders every prompt "
                "through the tokenizer's chat template; use online-dpo-r1 or chat"
            ) from None
        if self.val_size < 0:
            raise ConfigError(f"val_size must be >= 0, got {self.val_size}")
        if not 0 <= self.max_fail_share <= 1:
            raise ConfigError(f"max_fail_share must be in [0, 1], got {self.max_fail_share}")


def default_data_source(path: str) -> str:
    """A readable data_source: a Hub name as it is, a local file by its stem."""
    local = Path(path)
    return local.stem if local.suffix in (".jsonl", ".json", ".parquet") else path.rstrip("/")


def verl_row(record: dict, gt: str, split: str, index: int, args: PrepareArgs, data_source: str) -> dict:
    """One row of verl's RL parquet schema for a PROMPTS record."""
    return {
        "data_source": data_source,
        "prompt": chat_messages(record["problem"], args.prompt_type, args.instruction),
        "ability": ABILITY,
        "reward_model": {"style": "rule", "ground_truth": gt},
        # idx as a string: a parquet column has one type, and prompt sets use ints or strings
        "extra_info": {"split": split, "index": index, "idx": str(record["idx"]), "problem": record["problem"]},
    }


def with_gt_text(records: list[dict], path: str) -> list[tuple[dict, str]]:
    """(record, gt as a string); a gt that is neither string nor number is an error naming the record."""
    return [(r, gt_text(r, path, position + 1)) for position, r in enumerate(records)]


def run_audit(pairs: list[tuple[dict, str]], path: str, args: PrepareArgs) -> tuple[list[tuple[dict, str]], list[dict]]:
    """Keep the prompts whose gt passes annotate/audit.py's audit; return (kept, failures).

    Over ``max_fail_share`` failing, the set itself is suspect: AuditFailed, as audit.py stops a run.
    """
    n, failures = audit([(record["idx"], gt) for record, gt in pairs], num_workers=args.num_workers)
    for item in failures:
        logger.warning("%s: gt of prompt %s fails the audit: %r: %s", path, item["idx"], item["gt"][:200],
                       "; ".join(item["reasons"]))
    if n and len(failures) / n > args.max_fail_share:
        raise AuditFailed(f"{path}: {len(failures)} of {n} ground truths fail the grader audit, over max_fail_share "
                          f"{args.max_fail_share}; idx: {[f['idx'] for f in failures]}")
    failed = {f["idx"] for f in failures}
    return [(record, gt) for record, gt in pairs if record["idx"] not in failed], failures


def load(path: str, split: str, args: PrepareArgs) -> tuple[list[tuple[dict, str]], list[dict], int]:
    """(audited prompts, audit failures, prompts read) of one source."""
    pairs = with_gt_text(load_prompts(path, split, args.dataset_key, args.answer_key), path)
    read = len(pairs)
    failures: list[dict] = []
    if args.audit:
        pairs, failures = run_audit(pairs, path, args)
    return pairs, failures, read


def split_val(pairs: list[tuple[dict, str]], val_size: int, seed: int) -> tuple[list, list]:
    """(train, val): ``val_size`` prompts drawn with ``seed``; both keep the source order."""
    if val_size >= len(pairs):
        raise ConfigError(f"val_size {val_size} leaves no training prompts (the set has {len(pairs)} after the audit)")
    chosen = set(random.Random(seed).sample(range(len(pairs)), val_size))
    return ([p for i, p in enumerate(pairs) if i not in chosen], [p for i, p in enumerate(pairs) if i in chosen])


def write_parquet(path: Path, rows: list[dict]) -> None:
    """Rows -> one parquet file, atomically (a temporary file renamed when complete)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not rows:
        raise ConfigError(f"{path}: no prompts left to write")
    with atomic_open(path, "wb") as f:
        pq.write_table(pa.Table.from_pylist(rows), f)


def main(args: PrepareArgs) -> dict:
    """Write train.parquet, val.parquet and prepare_stats.json; return the stats."""
    out = Path(args.output_dir)
    data_source = args.data_source or default_data_source(args.dataset_name_or_path)
    pairs, failures, read = load(args.dataset_name_or_path, args.split, args)
    stats = {"source": args.dataset_name_or_path, "read": read, "audit_failed": len(failures)}
    if args.val_dataset_name_or_path:
        train = pairs
        val, val_failures, val_read = load(args.val_dataset_name_or_path, args.val_split, args)
        stats.update(val_source=args.val_dataset_name_or_path, val_read=val_read, val_audit_failed=len(val_failures))
        failures += val_failures
    else:
        train, val = split_val(pairs, args.val_size, args.seed)
    for split, chosen in (("train", train), ("val", val)):
        rows = [verl_row(record, gt, split, i, args, data_source) for i, (record, gt) in enumerate(chosen)]
        write_parquet(out / f"{split}.parquet", rows)
    stats.update(train=len(train), val=len(val), prompt_type=args.prompt_type, data_source=data_source,
                 audit_failures=failures)
    write_json(out / "prepare_stats.json", stats)
    logger.info("%s: %d prompts read, %s -> %s: train %d, val %d (prompt type %s)", args.dataset_name_or_path,
                read, f"{len(failures)} dropped by the ground-truth audit" if args.audit else "no audit", out,
                len(train), len(val), args.prompt_type)
    return stats


def cli(argv: list[str] | None = None) -> None:
    run_audited_cli(main, [PrepareArgs], argv)


if __name__ == "__main__":
    cli()
