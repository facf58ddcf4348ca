"""Where generation stops, measured: the original's rule (the model's eos only) against stopping at the end
of the chat turn (``sample.stop_at_end_of_turn``), on the same prompts with the same seed.

    python bench/stop_rule_bench.py --model_name_or_path Qwen/Qwen2.5-Math-7B \\
        --dataset_name_or_path RLHFlow/numia_prompt_dpo1 --num_prompts 512 --K 8 --engine vllm
    python bench/stop_rule_bench.py --model_name_or_path M --dataset_name_or_path prompts.jsonl --engine hf

Both runs sample the same prompts with the same seed, so under the eos-only rule a response is its
end-of-turn twin plus whatever the model writes after ``<|im_end|>`` (vLLM seeds each prompt; the hf engine
seeds each generate call, so here all the prompts go in one batch, which then draws the same random
numbers under both rules until the end-of-turn run stops). Printed per rule: responses that ran to ``max_new_tokens`` and
mean tokens per response; then the responses that went on past the end of their turn (an invented
continuation that the eos-only rule keeps), and how many of them the recipe's reward changes for (the
continuation's last ``\\boxed{}`` graded instead of the turn's answer, or a cut response).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from annotate.grader import RECIPE, grade
from common.config import ConfigError, run_cli
from common.prompt_sets import load_prompts
from common.prompts import PROMPT_TYPES
from generation.engines import ENGINES, make_engine
from generation.sample import SampleArgs, context_length, sample_records

logger = logging.getLogger(__name__)


@dataclass
class BenchArgs:
    model_name_or_path: str = field(metadata={"help": "the policy to sample (a base model: Qwen/Qwen2.5-Math-7B)"})
    dataset_name_or_path: str = field(metadata={"help": "prompts: idx/problem/gt JSONL, or a dataset"})
    num_prompts: int = field(default=64, metadata={"help": "the first N prompts"})
    K: int = field(default=8, metadata={"help": "responses per prompt"})
    max_new_tokens: int = field(default=4096, metadata={"help": "most tokens per response"})
    prompt_type: str = field(default="online-dpo-r1", metadata={"help": f"one of {PROMPT_TYPES}"})
    engine: str = field(default="auto", metadata={"help": f"one of {ENGINES}"})
    seed: int = field(default=42, metadata={"help": "the sampling seed of both runs"})

    def __post_init__(self):
        if self.num_prompts < 1 or self.K < 1:
            raise ConfigError(f"need num_prompts >= 1 and K >= 1, got {self.num_prompts}, {self.K}")


def reward(text: str, gt: str, reason: str) -> float:
    return RECIPE.reward(grade(text, gt, truncated=reason == "length"), text)


def main(args: BenchArgs) -> dict:
    prompts = load_prompts(args.dataset_name_or_path, "train", "problem", "gt")[: args.num_prompts]
    eos_only = SampleArgs(model_name_or_path=args.model_name_or_path, dataset_name_or_path=args.dataset_name_or_path,
                          output_dir="", K=args.K, max_new_tokens=args.max_new_tokens, seed=args.seed,
                          engine=args.engine, prompt_type=args.prompt_type, stop_at_end_of_turn=False)
    turn_end = replace(eos_only, stop_at_end_of_turn=True)
    engine = make_engine(args.engine, args.model_name_or_path, seed=args.seed, batch_size=len(prompts))
    limit = context_length(args.model_name_or_path, None)
    runs = {}
    for name, rule in (("eos only (the original's)", eos_only), ("end of turn", turn_end)):
        runs[name] = sample_records(engine, prompts, rule.sampling(rule.stops(engine.tokenizer)), args.prompt_type,
                                    max_prompt_tokens=limit)
    figures = {}
    for name, records in runs.items():
        reasons = [f for r in records for f in r["finish_reasons"]]
        tokens = [n for r in records for n in r["num_tokens"]]
        figures[name] = {"responses": len(tokens), "ran_to_the_cap": reasons.count("length") / len(reasons),
                         "mean_tokens": sum(tokens) / len(tokens)}
        print(f"{name:28s} responses {len(tokens)}  ran to the cap {100 * figures[name]['ran_to_the_cap']:5.1f}%  "
              f"mean tokens {figures[name]['mean_tokens']:.1f}")
    went_on = changed = 0
    (first, eos_records), (_, turn_records) = runs.items()
    for long, short in zip(eos_records, turn_records, strict=True):
        rows = zip(long["responses"], long["finish_reasons"], long["num_tokens"],
                   short["responses"], short["finish_reasons"], short["num_tokens"], strict=True)
        for text, reason, n, turn_text, turn_reason, turn_n in rows:
            if n > turn_n:
                went_on += 1
                changed += reward(text, long["gt"], reason) != reward(turn_text, short["gt"], turn_reason)
    total = figures[first]["responses"]
    figures["went_on_past_the_turn"] = went_on / total
    figures["reward_changed"] = changed / total
    print(f"went on past the end of the turn: {went_on} of {total} ({100 * went_on / total:.1f}%); "
          f"the recipe's reward changed for {changed} ({100 * changed / total:.1f}%)")
    return figures


if __name__ == "__main__":
    run_cli(main, [BenchArgs])
