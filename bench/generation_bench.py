"""Throughput of the hf generation engine: generated tokens/s for several batch sizes, as a table.

    python bench/generation_bench.py                                  # the demo's tiny model, built here
    python bench/generation_bench.py --model_name_or_path M --batch_sizes 1 8 32 --max_new_tokens 256
    python bench/generation_bench.py --threads 1                      # a CPU shared with other jobs

Every batch size makes the same number of ``generate`` calls (--calls) over the demo task's prompts, K
samples each at the recipe's temperature 1.0, so a row of batch size b samples b x calls prompts. Tokens are the completions' num_tokens
(eos included, padding not); a random tiny model rarely stops early, so nearly every sample runs to
max_new_tokens.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field

from common.config import ConfigError, run_cli
from common.prompt_sets import load_prompts
from common.prompts import render_prompt
from generation.engines import SamplingSpec, make_engine


@dataclass
class BenchArgs:
    model_name_or_path: str | None = field(
        default=None, metadata={"help": "model to time; default: build the demo's tiny model in a temporary folder"}
    )
    batch_sizes: list[int] = field(default_factory=lambda: [1, 8, 32, 64], metadata={"help": "prompts per call"})
    calls: int = field(default=4, metadata={"help": "generate calls timed at every batch size"})
    K: int = field(default=8, metadata={"help": "samples per prompt"})
    max_new_tokens: int = field(default=128, metadata={"help": "tokens per sample"})
    seed: int = field(default=0, metadata={"help": "sampling seed (and the tiny model's)"})
    threads: int | None = field(
        default=None, metadata={"help": "torch CPU threads (default: torch's); on a busy shared CPU 1 is faster"}
    )

    def __post_init__(self):
        if not self.batch_sizes or min(self.batch_sizes) < 1:
            raise ConfigError(f"batch_sizes must be positive integers, got {self.batch_sizes}")
        if self.calls < 1:
            raise ConfigError(f"calls must be >= 1, got {self.calls}")


def tiny_model_and_prompts(folder: str, seed: int, num_prompts: int) -> tuple[str, list[str]]:
    from demo.build import BuildArgs
    from demo.build import main as build

    build(BuildArgs(output_dir=folder, seed=seed, iterations=1, num_test=1, num_sft=1, num_iter_prompts=num_prompts))
    return f"{folder}/model", [p["problem"] for p in load_prompts(f"{folder}/task/iter_1.jsonl")]


def run(args: BenchArgs, model: str, problems: list[str]) -> None:
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    engine = make_engine("hf", model, progress=False)
    prompts = [render_prompt(engine.tokenizer, p) for p in problems]
    spec = SamplingSpec(n=args.K, temperature=1.0, max_new_tokens=args.max_new_tokens, seed=args.seed)
    engine.batch_size = max(args.batch_sizes)
    engine.generate(prompts[: engine.batch_size], spec)  # warm-up: first-call allocations are not throughput
    print(f"hf engine on {engine.device}, {torch.get_num_threads()} threads; model {model}")
    print(f"{args.calls} generate calls per row, K={args.K}, max_new_tokens={args.max_new_tokens}, temperature 1.0")
    print(f"{'prompts/call':>12} {'seqs/call':>10} {'tokens':>9} {'seconds':>8} {'tokens/s':>9} {'prompts/s':>9}")
    for batch_size in args.batch_sizes:
        engine.batch_size = batch_size
        timed = prompts[: batch_size * args.calls]
        start = time.perf_counter()
        completions = engine.generate(timed, spec)
        seconds = time.perf_counter() - start
        tokens = sum(c.num_tokens for cs in completions for c in cs)
        print(f"{batch_size:>12} {batch_size * args.K:>10} {tokens:>9} {seconds:>8.2f} {tokens / seconds:>9.0f} "
              f"{len(timed) / seconds:>9.2f}", flush=True)


def main(args: BenchArgs) -> None:
    with tempfile.TemporaryDirectory() as folder:
        needed = max(args.batch_sizes) * args.calls
        model, problems = tiny_model_and_prompts(folder, args.seed, needed)  # the prompts serve any model
        run(args, args.model_name_or_path or model, problems)


if __name__ == "__main__":
    run_cli(main, [BenchArgs])
