"""Supervised fine-tuning on prompt/completion records with TRL's SFTTrainer: the SFT warm-up and RAFT.

    python dpo_iteration/sft.py configs/sft/qwen25_math_7b_raft.yaml \\
        --model_name_or_path runs/r/iter_0/model --train_file runs/r/iter_1/raft.jsonl \\
        --output_dir runs/r/iter_1/model --seed 42
    accelerate launch --config_file configs/accelerate/zero3.yaml dpo_iteration/sft.py CONFIG.yaml ...

The driver passes ``--model_name_or_path``, ``--train_file`` (records with ``prompt`` and ``completion``:
raft records, or the warm-up's worked solutions), ``--output_dir`` and ``--seed``; everything else comes
from the YAML config (``configs/sft/``): the fields below plus every field of TRL's SFTConfig.

With ``val_file`` in the config (dpo_iteration/validation.py), training stops when greedy accuracy on
those validation problems stops improving, and the best checkpoint is the model saved (the demo's
warm-up: configs/sft/demo_warmup.yaml).

The loss is on the completion and its eos only (``completion_only_loss`` defaults to true here: TRL
would decide from a ``prompt`` column, which pre-tokenised data no longer has). Tokens are prompt ids +
completion ids + one eos (``eos_token``, default the tokenizer's), each tokenised alone with no special
tokens, as generation produced them. The model appears at ``output_dir`` only when complete
(dpo_iteration/training.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from trl import SFTConfig, SFTTrainer

from common.config import ConfigError, run_cli
from common.prompts import render_prompt
from common.records import SFT
from dpo_iteration.training import (
    GlobalBatchArgs,
    ModelDataArgs,
    check_deepspeed_saves_weights,
    check_training_config,
    encode,
    load_model,
    load_tokenizer,
    read_text_records,
    response_ids,
    run_training,
    stop_at_eos,
)
from dpo_iteration.validation import ValidationArgs, ValidationCallback, validation_callbacks

logger = logging.getLogger(__name__)

@dataclass
class SFTTrainConfig(ValidationArgs, GlobalBatchArgs, SFTConfig):
    """TRL's SFTConfig, with its values checked before any model loads, the loss on completions, and an
    optional early stop on validation accuracy."""

    def __post_init__(self):
        check_training_config(self)
        self.check_validation()
        if self.completion_only_loss is None:
            self.completion_only_loss = True
        if self.packing:
            raise ConfigError("packing is not supported here: records are tokenised per prompt/completion")
        if self.max_length is not None and self.max_length < 2:
            raise ConfigError(f"max_length must be >= 2 or null, got {self.max_length}")
        super().__post_init__()
        check_deepspeed_saves_weights(self)


def tokenize_completions(records: list[dict], tokenizer) -> dict[str, list]:
    """Columns input_ids (prompt + completion + eos) and completion_mask (1 on completion and eos)."""
    prompts = encode(tokenizer, [r["prompt"] for r in records])
    completions = response_ids(tokenizer, [r["completion"] for r in records])
    return {
        "input_ids": [p + c for p, c in zip(prompts, completions, strict=True)],
        "completion_mask": [[0] * len(p) + [1] * len(c) for p, c in zip(prompts, completions, strict=True)],
    }


def build_trainer(args: ModelDataArgs, config: SFTTrainConfig) -> tuple[SFTTrainer, dict]:
    """The trainer, its records read and tokenised before the model loads; also the facts for train_log.json."""
    from datasets import Dataset

    records = read_text_records(args.train_file, SFT, ("prompt", "completion"))
    tokenizer = load_tokenizer(args.model_name_or_path, config.eos_token)
    dataset = Dataset.from_dict(tokenize_completions(records, tokenizer))
    validation: dict = {}
    callbacks = validation_callbacks(config, validation)
    eval_dataset = None
    if callbacks:
        # The Trainer evaluates a dataset (its loss is logged beside the accuracy): the validation problems
        # with their worked solutions where the file has them, else with the boxed answer.
        problems = next(c for c in callbacks if isinstance(c, ValidationCallback)).problems
        eval_dataset = Dataset.from_dict(tokenize_completions(
            [{"prompt": render_prompt(tokenizer, p["problem"], config.val_prompt_type),
              "completion": p.get("solution") or f"\\boxed{{{p['gt']}}}"} for p in problems], tokenizer))
    model = load_model(args.model_name_or_path, args, config)
    stop_at_eos(model, tokenizer)
    trainer = SFTTrainer(model=model, args=config, train_dataset=dataset, eval_dataset=eval_dataset,
                         processing_class=tokenizer, callbacks=callbacks)
    facts = {
        "stage": "sft",
        "model_name_or_path": args.model_name_or_path,
        "train_file": args.train_file,
        "records": len(records),
        "completion_only_loss": config.completion_only_loss,
        "eos_token": tokenizer.eos_token,
    }
    if callbacks:
        facts["validation"] = validation  # filled in as training goes; written with train_log.json
    return trainer, facts


def main(args: ModelDataArgs, config: SFTTrainConfig) -> None:
    run_training(build_trainer, args, config)


if __name__ == "__main__":
    run_cli(main, [ModelDataArgs, SFTTrainConfig])
