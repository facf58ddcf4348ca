"""Build the embedded default: the tiny model, its tokenizer, and the synthetic task's data files.

    python demo/build.py --output_dir runs/demo/assets --seed 42 --iterations 3

writes ``model/`` (save_pretrained), and ``task/``: ``sft.jsonl`` (prompt/completion worked solutions
for the SFT warm-up, in the task's mix of one-line and step-by-step styles), ``iter_<i>.jsonl`` (a new
prompt set per iteration), ``arith/test.jsonl`` (the held-out test set, in eval_math's
``<data_dir>/<name>/test.jsonl`` layout) and ``val.jsonl`` (the validation split the warm-up stops on:
disjoint from the test set, the SFT solutions and every iteration's prompts). Same seed, same bytes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from common.config import ConfigError, run_cli
from common.paths import OUTPUT_DIR
from common.prompts import (
    INSTRUCTION,
    PROMPT_TYPES,
    QWEN25_MATH_SYSTEM,
    RAW_TEMPLATE,
    check_prompt_type,
    render_prompt,
)
from common.records import atomic_open, write_jsonl
from demo.task import TaskSpec, make_splits
from demo.tiny_model import TinyModelSpec, build_tiny_model

logger = logging.getLogger(__name__)

TEST_SET_NAME = "arith"
VAL_FILE = "val.jsonl"


@dataclass
class BuildArgs:
    PATHS: ClassVar[dict[str, str]] = {"output_dir": OUTPUT_DIR}

    output_dir: str = field(metadata={"help": "directory to create model/ and task/ in"})
    seed: int = field(default=42, metadata={"help": "seeds the task generator and the model's initialisation"})
    iterations: int = field(default=3, metadata={"help": "how many per-iteration prompt sets to write"})
    num_test: int = field(default=500, metadata={"help": "held-out test problems"})
    num_val: int = field(default=200, metadata={"help": "validation problems (the warm-up's early stop)"})
    num_sft: int = field(default=2000, metadata={"help": "worked solutions for the SFT warm-up"})
    num_iter_prompts: int = field(default=1024, metadata={"help": "prompts per iteration"})
    prompt_type: str = field(
        default="online-dpo-r1",
        metadata={"help": f"prompt of the SFT records, one of {PROMPT_TYPES} (the prompt the warm-up then samples with)"},
    )
    min_operands: int = field(default=TaskSpec.min_operands, metadata={"help": "fewest numbers in a problem"})
    max_operands: int = field(default=TaskSpec.max_operands, metadata={"help": "most numbers in a problem"})
    max_value: int = field(default=TaskSpec.max_value, metadata={"help": "largest operand of + and -"})
    max_factor: int = field(default=TaskSpec.max_factor, metadata={"help": "largest right operand of *"})
    operators: str = field(default=TaskSpec.operators, metadata={"help": "the operators problems draw from"})
    one_line_share: float = field(
        default=TaskSpec.one_line_share,
        metadata={"help": "share of SFT solutions written in one line ('2 + 3 - 1 = \\boxed{4}.'); the rest step by step"},
    )
    hidden_size: int = field(default=TinyModelSpec.hidden_size, metadata={"help": "model width"})
    intermediate_size: int = field(default=TinyModelSpec.intermediate_size, metadata={"help": "MLP width"})
    num_hidden_layers: int = field(default=TinyModelSpec.num_hidden_layers, metadata={"help": "model depth"})
    vocab_size: int = field(default=TinyModelSpec.vocab_size, metadata={"help": "BPE vocabulary size"})

    def __post_init__(self):
        for name in ("iterations", "num_test", "num_val", "num_sft", "num_iter_prompts"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        check_prompt_type(self.prompt_type)


def tokenizer_corpus(splits: dict[str, list[dict]]) -> list[str]:
    """Text the BPE learns from: the task, plus every fixed string that prompts are made of."""
    fixed = [INSTRUCTION, QWEN25_MATH_SYSTEM, RAW_TEMPLATE, "system", "user", "assistant"]
    # Only the worked solutions: the vocabulary (and so the model) must not change with the number or
    # size of the per-iteration prompt sets.
    return fixed + [r["problem"] + "\n" + r["solution"] for r in splits["sft"]]


def main(args: BuildArgs) -> None:
    out = Path(args.output_dir)
    try:
        spec = TaskSpec(min_operands=args.min_operands, max_operands=args.max_operands, max_value=args.max_value,
                        max_factor=args.max_factor, operators=args.operators, one_line_share=args.one_line_share)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    sizes = {"test": args.num_test, "val": args.num_val, "sft": args.num_sft}
    sizes.update({f"iter_{i}": args.num_iter_prompts for i in range(1, args.iterations + 1)})
    splits = make_splits(args.seed, sizes, spec)

    model_spec = TinyModelSpec(
        vocab_size=args.vocab_size, hidden_size=args.hidden_size,
        intermediate_size=args.intermediate_size, num_hidden_layers=args.num_hidden_layers,
    )
    _, tokenizer = build_tiny_model(out / "model", tokenizer_corpus(splits), args.seed, model_spec)

    task = out / "task"
    write_jsonl(task / TEST_SET_NAME / "test.jsonl", splits["test"])
    write_jsonl(
        task / "sft.jsonl",
        ({"idx": r["idx"], "prompt": render_prompt(tokenizer, r["problem"], args.prompt_type),
          "completion": r["solution"]} for r in splits["sft"]),
    )
    write_jsonl(task / VAL_FILE, splits["val"])
    for i in range(1, args.iterations + 1):
        write_jsonl(task / f"iter_{i}.jsonl", splits[f"iter_{i}"])
    with atomic_open(out / "DONE") as f:  # marks a complete build for the driver's skip logic
        f.write("ok\n")
    logger.info("built the tiny model and task in %s (%s)", out, {k: len(v) for k, v in splits.items()})


if __name__ == "__main__":
    run_cli(main, [BuildArgs])
