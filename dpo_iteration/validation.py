"""Early stopping on greedy validation accuracy for sft.py: a finished warm-up, not a fixed step count.

With ``val_file`` set (prompt records ``{"idx", "problem", "gt"}``, e.g. the demo's ``task/val.jsonl``),
every ``val_steps`` optimizer steps the model being trained answers each validation problem greedily and
the project's grader (``annotate.grader``, the reward and the evaluation's) scores the answers. The
Trainer's own machinery does the rest: the accuracy is the metric that picks the best checkpoint
(``metric_for_best_model``, a checkpoint saved at every validation), transformers'
``EarlyStoppingCallback`` stops training after ``val_patience`` validations without a new best, and
``load_best_model_at_end`` puts the best checkpoint's weights back before the model is saved.
``val_start_step`` holds the validations (and so the early stop) back until the rate has decayed, so that
the model kept is one trained at a low rate, not one that a high rate happened to leave at a good point.
``train_log.json`` then holds, under ``validation``, the curve, the step kept and why training ended
(pipeline/report.py shows them).

    python dpo_iteration/sft.py configs/sft/demo_warmup.yaml --model_name_or_path runs/demo/assets/model \\
        --train_file runs/demo/assets/task/sft.jsonl --val_file runs/demo/assets/task/val.jsonl \\
        --output_dir runs/demo/iter_0/model --seed 42
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from transformers import EarlyStoppingCallback, TrainerCallback

from common.config import ConfigError
from common.prompt_sets import load_prompts
from common.prompts import PROMPT_TYPES, render_prompt

logger = logging.getLogger(__name__)

# The Trainer prefixes evaluation metrics with "eval_"; metric_for_best_model names it without.
METRIC = "val_accuracy"


@dataclass
class ValidationArgs:
    """The early stop's settings: fields of SFTTrainConfig, so they come from the trainer's YAML config."""

    val_file: str | None = field(
        default=None,
        metadata={"help": "validation prompts (idx/problem/gt JSONL): with it, training stops when their greedy "
                          "accuracy stops improving and the best checkpoint is kept; without it, no validation"},
    )
    val_steps: int = field(default=100, metadata={"help": "optimizer steps between validations"})
    val_start_step: int = field(
        default=0,
        metadata={"help": "no validation, so no early stop and no checkpoint, before this optimizer step: with a "
                          "decaying rate, the early stop then judges only models trained at a low rate"},
    )
    val_patience: int = field(
        default=3, metadata={"help": "validations without a new best accuracy before training stops"}
    )
    val_max_new_tokens: int = field(default=64, metadata={"help": "longest validation answer, in tokens"})
    val_prompt_type: str = field(
        default="chat", metadata={"help": f"prompt of the validation problems, one of {PROMPT_TYPES}"}
    )
    val_batch_size: int = field(default=64, metadata={"help": "validation prompts generated at a time"})

    def check_validation(self) -> None:
        """Check the fields and, with ``val_file``, set the Trainer's evaluation, saving and best-model keys.

        Called by SFTTrainConfig.__post_init__ before TRL's own checks see those keys.
        """
        if self.val_file is None:
            return
        if not Path(self.val_file).is_file():
            raise ConfigError(f"val_file not found: {self.val_file}")
        for name in ("val_steps", "val_patience", "val_max_new_tokens", "val_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.val_start_step < 0:
            raise ConfigError(f"val_start_step must be >= 0, got {self.val_start_step}")
        if self.val_prompt_type not in PROMPT_TYPES:
            raise ConfigError(f"val_prompt_type must be one of {PROMPT_TYPES}, got {self.val_prompt_type!r}")
        # A checkpoint at every validation, so that the best one can be loaded at the end; the latest and
        # the best are kept (save_total_limit 1 keeps the best besides the latest).
        self.eval_strategy = "steps"
        self.eval_steps = self.val_steps
        self.save_strategy = "steps"
        self.save_steps = self.val_steps
        self.save_total_limit = 1
        self.load_best_model_at_end = True
        self.metric_for_best_model = METRIC
        self.greater_is_better = True


def validation_accuracy(model, tokenizer, problems: list[dict], args: ValidationArgs) -> float:
    """The share of ``problems`` the model answers correctly, greedily, as the evaluation grades them."""
    from annotate.grader import grade_many
    from generation.engines import HFEngine, SamplingSpec

    engine = HFEngine.from_model(model, tokenizer, batch_size=args.val_batch_size)
    prompts = [render_prompt(tokenizer, p["problem"], args.val_prompt_type) for p in problems]
    sampling = SamplingSpec(n=1, temperature=0.0, max_new_tokens=args.val_max_new_tokens)
    answers = [completions[0].text for completions in engine.generate(prompts, sampling)]
    grades = grade_many(zip(answers, [p["gt"] for p in problems], strict=True))
    return sum(bool(g.correct) for g in grades) / len(problems)


class ValidationCallback(TrainerCallback):
    """Adds the greedy validation accuracy to every evaluation's metrics and records the curve.

    ``summary`` (a dict, filled in place, that sft.py puts in train_log.json) holds ``curve``
    (``[step, accuracy]`` per validation), ``best_step``, ``best_accuracy`` and ``stopped_early``.
    """

    def __init__(self, args: ValidationArgs, summary: dict):
        self.args = args
        self.problems = load_prompts(args.val_file)
        if not self.problems:
            raise ConfigError(f"{args.val_file}: no validation problems")
        self.summary = summary
        summary.update({"val_file": args.val_file, "problems": len(self.problems), "val_steps": args.val_steps,
                        "start_step": args.val_start_step, "patience": args.val_patience, "curve": [], "best_step": None, "best_accuracy": None,
                        "stopped_early": False})

    def on_step_end(self, args, state, control, **kwargs):
        # Runs after the Trainer's own flow callback, which asked for the validation and checkpoint of
        # every val_steps-th step: none before val_start_step.
        if state.global_step < self.args.val_start_step:
            control.should_evaluate = control.should_save = False
        return control

    def on_evaluate(self, args, state, control, metrics=None, model=None, processing_class=None, **kwargs):
        was_training = model.training
        model.eval()
        try:
            accuracy = validation_accuracy(model, processing_class, self.problems, self.args)
        finally:
            model.train(was_training)
        metrics[f"eval_{METRIC}"] = accuracy  # read next by EarlyStoppingCallback and the best-checkpoint choice
        # The Trainer logged this evaluation's metrics before calling back: the curve goes into that entry.
        last = state.log_history[-1] if state.log_history else None
        if last is not None and last.get("step") == state.global_step and "eval_loss" in last:
            last[f"eval_{METRIC}"] = accuracy
        self.summary["curve"].append([state.global_step, round(accuracy, 6)])
        best = self.summary["best_accuracy"]
        if best is None or accuracy > best:
            self.summary["best_step"], self.summary["best_accuracy"] = state.global_step, round(accuracy, 6)
        logger.info("step %d: validation accuracy %.3f (best %.3f at step %d)", state.global_step, accuracy,
                    self.summary["best_accuracy"], self.summary["best_step"])

    def on_train_end(self, args, state, control, **kwargs):
        self.summary["stopped_early"] = state.global_step < state.max_steps
        self.summary["last_step"] = state.global_step
        self.summary["max_steps"] = state.max_steps


def validation_callbacks(args: ValidationArgs, summary: dict) -> list[TrainerCallback]:
    """The callbacks for sft.py's trainer: the accuracy first, then transformers' early stop reading it."""
    if args.val_file is None:
        return []
    return [ValidationCallback(args, summary), EarlyStoppingCallback(early_stopping_patience=args.val_patience)]
