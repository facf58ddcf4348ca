"""DPO on a pairs file with TRL's DPOTrainer: the recipe's sigmoid loss, DPO+NLL, or any TRL preference loss.

    python dpo_iteration/dpo.py configs/dpo/qwen25_math_7b.yaml \\
        --model_name_or_path runs/r/iter_0/model --train_file runs/r/iter_1/pairs.jsonl \\
        --output_dir runs/r/iter_1/model --seed 42 [--ref_policy initial --initial_model_name_or_path M]
    accelerate launch --config_file configs/accelerate/zero3.yaml dpo_iteration/dpo.py CONFIG.yaml ...

The driver passes ``--model_name_or_path`` (the iteration's starting policy), ``--train_file`` (pairs
records: prompt, chosen, rejected, ...), ``--output_dir``, ``--seed`` and, for ``ref_policy: initial``,
``--initial_model_name_or_path``; everything else comes from the YAML config (``configs/dpo/``): this
script's fields below plus every field of TRL's DPOConfig.

- Reference: ``ref_policy: previous`` is the iteration's starting model (``model_name_or_path``),
  ``initial`` is ``initial_model_name_or_path``; it loads in the policy's dtype, and which one was used
  is logged and written to ``train_log.json``.
- ``precompute_ref_log_probs: true`` (the recipe configs' choice) computes the reference log-probs in one
  pass before training and then holds no reference model: less memory (no second 7B model beside the
  policy) and one reference forward per pair instead of one per pair per epoch.
- Label smoothing: TRL 1.16's ``sigmoid`` loss ignores ``label_smoothing``, which in the recipe (TRL 0.9)
  meant conservative DPO, (1-e)*-logsig(b*d) + e*-logsig(-b*d). With e > 0 this script computes exactly
  that from TRL's ``robust`` loss ((1-e)*-logsig(b*d) - e*-logsig(-b*d))/(1-2e):
  2(1-e)*sigmoid - (1-2e)*robust; the expanded loss_type and loss_weights are logged.
- Tokens: prompt ids + response ids + one eos, each tokenised alone with no special tokens, as
  generation produced them (see PretokenizedDPOTrainer).
- Output: the model appears at ``output_dir`` only when complete (dpo_iteration/training.py).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from trl import DPOConfig, DPOTrainer

from common.config import ConfigError, run_cli
from common.paths import MODEL
from common.records import PAIRS
from dpo_iteration.training import (
    GlobalBatchArgs,
    ModelDataArgs,
    cached_dataset,
    check_deepspeed_saves_weights,
    check_training_config,
    encode,
    file_digest,
    load_model,
    load_tokenizer,
    read_text_records,
    response_ids,
    run_training,
    stop_at_eos,
)

logger = logging.getLogger(__name__)

REF_POLICIES = ("previous", "initial")
# TRL 1.16's loss types (trl/trainer/dpo_trainer.py); TRL checks them only at the first step, after the
# models have loaded, so they are checked here. TRL is pinned in requirements_train.txt.
LOSS_TYPES = (
    "sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
    "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm",
)
# The losses whose formula reads label_smoothing ("sigmoid" does through conservative_losses).
SMOOTHED_LOSS_TYPES = ("sigmoid", "robust", "exo_pair", "aot", "aot_unpaired")


@dataclass
class DPOScriptArgs(ModelDataArgs):
    PATHS: ClassVar[dict[str, str]] = {"initial_model_name_or_path": MODEL}

    ref_policy: str = field(
        default="previous",
        metadata={"help": f"reference model, one of {REF_POLICIES}: previous = model_name_or_path, "
                  "initial = initial_model_name_or_path"},
    )
    initial_model_name_or_path: str | None = field(
        default=None, metadata={"help": "the run's first model, the reference when ref_policy is initial"}
    )
    eos_token: str | None = field(
        default=None,
        metadata={"help": "token appended to every response (default: the tokenizer's eos); must be where "
                  "generation stopped, e.g. <|im_end|> for chat-templated prompts"},
    )

    def __post_init__(self):
        super().__post_init__()
        if self.ref_policy not in REF_POLICIES:
            raise ConfigError(f"ref_policy must be one of {REF_POLICIES}, got {self.ref_policy!r}")
        if self.ref_policy == "initial":
            if not self.initial_model_name_or_path:
                raise ConfigError("ref_policy initial needs initial_model_name_or_path")


@dataclass
class DPOTrainConfig(GlobalBatchArgs, DPOConfig):
    """TRL's DPOConfig, with its values checked before any model loads and label smoothing made real."""

    def __post_init__(self):
        check_training_config(self)
        if isinstance(self.loss_type, str):
            self.loss_type = [self.loss_type]
        unknown = [name for name in self.loss_type if name not in LOSS_TYPES]
        if unknown:
            raise ConfigError(f"unknown loss_type {unknown}; TRL's are {list(LOSS_TYPES)}")
        if self.beta <= 0:
            raise ConfigError(f"beta must be > 0, got {self.beta}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"label_smoothing must be in [0, 0.5), got {self.label_smoothing}")
        if self.label_smoothing and not set(self.loss_type) & set(SMOOTHED_LOSS_TYPES):
            raise ConfigError(
                f"label_smoothing {self.label_smoothing} has no effect on loss_type {self.loss_type}; set it to 0"
            )
        if self.sync_ref_model and self.precompute_ref_log_probs:
            raise ConfigError("sync_ref_model updates the reference, so its log-probs cannot be precomputed; "
                              "set precompute_ref_log_probs: false")
        if self.label_smoothing and {"sigmoid", "robust"} <= set(self.loss_type):
            raise ConfigError("label_smoothing with both sigmoid and robust losses is ambiguous; use one of them")
        super().__post_init__()
        check_deepspeed_saves_weights(self)
        if self.label_smoothing and "sigmoid" in self.loss_type:
            self.loss_type, self.loss_weights = conservative_losses(
                self.loss_type, self.loss_weights, self.label_smoothing
            )
            logger.info(
                "label_smoothing %s with the sigmoid loss: conservative DPO, as loss_type %s with loss_weights %s",
                self.label_smoothing, self.loss_type, self.loss_weights,
            )


def conservative_losses(loss_types, loss_weights, label_smoothing: float) -> tuple[list[str], list[float]]:
    """Replace each ``sigmoid`` by the TRL losses whose sum is conservative DPO (see the module docstring)."""
    eps = label_smoothing
    weights = list(loss_weights) if loss_weights else [1.0] * len(loss_types)
    types_out, weights_out = [], []
    for name, weight in zip(loss_types, weights, strict=True):
        if name == "sigmoid":
            types_out += ["sigmoid", "robust"]
            weights_out += [weight * 2 * (1 - eps), -weight * (1 - 2 * eps)]
        else:
            types_out.append(name)
            weights_out.append(weight)
    return types_out, weights_out


def tokenize_pairs(records: list[dict], tokenizer, max_length: int | None) -> tuple[dict[str, list], int]:
    """Columns prompt_ids/chosen_ids/rejected_ids; pairs whose prompt alone fills max_length are dropped.

    Returns the columns and how many pairs were dropped.
    """
    prompts = encode(tokenizer, [r["prompt"] for r in records])
    chosen = response_ids(tokenizer, [r["chosen"] for r in records])
    rejected = response_ids(tokenizer, [r["rejected"] for r in records])
    keep = [i for i, ids in enumerate(prompts) if max_length is None or len(ids) < max_length]
    columns = {
        "prompt_ids": [prompts[i] for i in keep],
        "chosen_ids": [chosen[i] for i in keep],
        "rejected_ids": [rejected[i] for i in keep],
    }
    return columns, len(records) - len(keep)


class PretokenizedDPOTrainer(DPOTrainer):
    """DPOTrainer on pairs that tokenize_pairs has already turned into ids.

    TRL 1.16 tokenises prompt + response as one string and starts the response where that diverges from
    the prompt's own tokens: a token that merges across the boundary (" The" after "Answer:") moves the
    boundary and cuts the prompt's last token. Generation saw the prompt's tokens, then the response's,
    so that is what training sees. Sequences longer than max_length are cut by TRL's collator.
    """

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        return dataset


def release_precompute_engines(trainer: DPOTrainer) -> None:
    """Drop what computed the reference log-probs, which are in the dataset now; training never calls it.

    Under DeepSpeed, TRL 1.16 precomputes through an inference engine: with no reference model, one it
    wraps around the policy itself (``deepspeed.initialize(model=policy)``, kept in ``_precompute_engine``
    for later ``evaluate`` calls), else the reference model's. The engine's hooks outlive the reference
    pass: ZeRO-3's parameter gather/release hooks on every submodule, and (DeepSpeed 0.19) the engine's
    own forward prologue/epilogue hooks on the root module. Left there, the policy would train under two
    engines' hooks, the training engine's and this one's. ``destroy()`` removes the ZeRO-3 hooks
    (``DeepSpeedZeRoOffload.destroy``) but not the prologue/epilogue pair, which is removed here.
    """
    for name in ("_precompute_engine", "ref_model"):
        engine = getattr(trainer, name, None)
        if engine is None:
            continue
        if hasattr(engine, "destroy"):  # a DeepSpeed engine; a plain reference model has nothing to remove
            engine.destroy()
            for hook in ("module_forward_pre_hook", "module_forward_post_hook"):
                if getattr(engine, hook, None) is not None:
                    getattr(engine, hook).remove()
                    setattr(engine, hook, None)
        setattr(trainer, name, None)


def reference_path(args: DPOScriptArgs) -> str:
    return args.initial_model_name_or_path if args.ref_policy == "initial" else args.model_name_or_path


def same_model(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b) if Path(a).exists() else a == b


def build_trainer(args: DPOScriptArgs, config: DPOTrainConfig) -> tuple[PretokenizedDPOTrainer, dict]:
    """The trainer, its pairs read and tokenised before any model loads; also the facts for train_log.json."""
    records = read_text_records(args.train_file, PAIRS, ("prompt", "chosen", "rejected"))
    tokenizer = load_tokenizer(args.model_name_or_path, args.eos_token)
    columns, dropped = tokenize_pairs(records, tokenizer, config.max_length)
    if dropped:
        logger.warning("dropped %d of %d pairs whose prompt alone fills max_length %d", dropped, len(records),
                       config.max_length)
    if not columns["prompt_ids"]:
        raise ConfigError(f"every pair's prompt is longer than max_length {config.max_length}")
    key = f"{file_digest(args.train_file)} {args.model_name_or_path} {tokenizer.eos_token} {config.max_length}"
    with config.main_process_first(local=False, desc="tokenised pairs"):
        dataset = cached_dataset(columns, Path(config.output_dir) / "cache", key)

    ref_path = reference_path(args)
    ref_is_policy = same_model(ref_path, args.model_name_or_path)
    logger.info("reference: %s = %s", args.ref_policy, ref_path)
    model = load_model(args.model_name_or_path, args, config)
    stop_at_eos(model, tokenizer)
    # With precomputed log-probs and the policy as reference, TRL computes them with the policy before
    # its first step, so no second model is ever loaded.
    needs_ref_model = not (config.precompute_ref_log_probs and ref_is_policy)
    ref_model = load_model(ref_path, args, config) if needs_ref_model else None
    trainer = PretokenizedDPOTrainer(
        model=model, ref_model=ref_model, args=config, train_dataset=dataset, processing_class=tokenizer
    )
    if config.precompute_ref_log_probs:
        release_precompute_engines(trainer)
    facts = {
        "stage": "dpo",
        "model_name_or_path": args.model_name_or_path,
        "train_file": args.train_file,
        "ref_policy": args.ref_policy,
        "ref_model": ref_path,
        "pairs": len(columns["prompt_ids"]),
        "pairs_dropped_too_long": dropped,
        "loss_type": config.loss_type,
        "loss_weights": config.loss_weights,
        "eos_token": tokenizer.eos_token,
    }
    return trainer, facts


def main(args: DPOScriptArgs, config: DPOTrainConfig) -> None:
    run_training(build_trainer, args, config)


if __name__ == "__main__":
    run_cli(main, [DPOScriptArgs, DPOTrainConfig])
