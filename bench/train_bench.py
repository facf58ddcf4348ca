"""DPO throughput and peak memory with and without precomputed reference log-probs, side by side.

    python bench/train_bench.py                        # the tiny demo model on CPU
    python bench/train_bench.py --shape qwen2.5-0.5b   # a randomly initialised Qwen2.5-0.5B-shaped model (GPU)
    python bench/train_bench.py --shape qwen2.5-0.5b-2layers --num_pairs 32 --batch_size 4   # its CPU stand-in

Each variant trains dpo_iteration/dpo.py's trainer in a fresh process (so peak RSS is its own) on the same
synthetic pairs (the demo task: right worked solution vs wrong answer) for the recipe's 2 epochs (EPOCHS).
Columns: set-up (tokenise, load the policy, then either load the reference model or run the
reference pass), the training loop, tokens/s of the loop and end to end (set-up included), peak RSS of
the process, and peak GPU memory where there is a GPU.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import resource
import tempfile
import time
from pathlib import Path

EPOCHS = 2  # the recipe's; precomputing saves a reference forward per pair in every epoch after the first
SHAPES = {
    # hidden, intermediate, layers, attention heads, KV heads, vocab: Qwen2.5-0.5B's config.json
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936),
    # its width and vocabulary with 2 layers: big enough on CPU that the reference model's memory shows
    "qwen2.5-0.5b-2layers": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=2,
                                 num_attention_heads=14, num_key_value_heads=2, vocab_size=151936),
}


def build_assets(out: Path, shape: str | None, num_pairs: int) -> tuple[Path, Path]:
    """The demo's tiny model (or a random model of ``shape`` with its tokenizer) and a pairs file."""
    from common.records import read_records, write_jsonl
    from demo.build import BuildArgs
    from demo.build import main as build

    build(BuildArgs(output_dir=str(out), seed=0, iterations=1, num_test=1, num_sft=num_pairs, num_iter_prompts=1))
    model_dir = out / "model"
    if shape is not None:
        from transformers import Qwen2Config, Qwen2ForCausalLM

        tiny = Qwen2Config.from_pretrained(model_dir)
        config = Qwen2Config(**SHAPES[shape], tie_word_embeddings=True, max_position_embeddings=4096,
                             eos_token_id=tiny.eos_token_id, pad_token_id=tiny.pad_token_id, bos_token_id=None)
        Qwen2ForCausalLM(config).save_pretrained(model_dir)
    records = read_records(out / "task" / "sft.jsonl")
    write_jsonl(out / "pairs.jsonl", ({"idx": r["idx"], "prompt": r["prompt"], "chosen": r["completion"],
                                      "rejected": wrong_answer(r["completion"]), "chosen_reward": 1.0,
                                      "rejected_reward": -1.0, "margin": 2.0} for r in records))
    return model_dir, out / "pairs.jsonl"


def wrong_answer(completion: str) -> str:
    return re.sub(r"\\boxed\{(-?\d+)\}", lambda m: str(int(m.group(1)) + 1), completion)


def measure(precompute: bool, model_dir: str, pairs: str, out: str, opts: dict, queue) -> None:
    """Train one variant in this (fresh) process and put its figures on ``queue``."""
    import torch

    from common.config import parse_config
    from dpo_iteration import dpo

    torch.set_num_threads(opts["threads"])
    argv = ["--model_name_or_path", model_dir, "--train_file", pairs, "--output_dir", out, "--seed", "0",
            "--precompute_ref_log_probs", str(precompute).lower(), "--num_train_epochs", str(EPOCHS),
            "--per_device_train_batch_size", str(opts["batch_size"]), "--learning_rate", "5e-7",
            "--max_length", "4096", "--gradient_checkpointing", str(opts["gradient_checkpointing"]).lower(),
            "--save_strategy", "no", "--logging_steps", "1000", "--report_to", "none", "--disable_tqdm", "true"]
    args, config = parse_config([dpo.DPOScriptArgs, dpo.DPOTrainConfig], argv)
    start = time.perf_counter()
    trainer, _ = dpo.build_trainer(args, config)
    built = time.perf_counter()
    train_s = trainer.train().metrics["train_runtime"]
    data = trainer.train_dataset
    # what the trainer feeds the model: prompt + response for both halves of every pair, every epoch
    tokens = EPOCHS * sum(2 * len(p) + len(c) + len(r)
                     for p, c, r in zip(data["prompt_ids"], data["chosen_ids"], data["rejected_ids"], strict=True))
    queue.put({
        "variant": "precomputed" if precompute else "reference model",
        "setup_s": built - start,
        "train_s": train_s,
        "tokens": tokens,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=sorted(SHAPES), help="a random model of this shape instead of the tiny one")
    parser.add_argument("--num_pairs", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--gradient_checkpointing", action="store_true")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: on shared cores more threads spin and slow the tiny model)")
    opts = parser.parse_args()

    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, pairs = build_assets(Path(tmp) / "assets", opts.shape, opts.num_pairs)
        settings = vars(opts)
        rows = []
        for precompute in (False, True):
            queue = spawn.Queue()
            out = str(Path(tmp) / f"out_{precompute}")
            process = spawn.Process(target=measure, args=(precompute, str(model_dir), str(pairs), out, settings, queue))
            process.start()
            process.join()
            if process.exitcode != 0:
                raise SystemExit(f"the run with precompute_ref_log_probs={precompute} failed (exit {process.exitcode})")
            rows.append(queue.get())

    print(f"DPO, {opts.shape or 'tiny demo model'}, {opts.num_pairs} pairs x {EPOCHS} epochs, batch {opts.batch_size}, "
          f"{opts.threads} thread(s)")
    header = f"{'reference':<16} {'set-up s':>8} {'train s':>8} {'train tok/s':>11} {'total tok/s':>11} " \
             f"{'peak RSS MiB':>12} {'peak GPU MiB':>12}"
    print(header)
    for r in rows:
        gpu = f"{r['peak_gpu_mib']:.0f}" if r["peak_gpu_mib"] is not None else "-"
        total_s = r["setup_s"] + r["train_s"]
        print(f"{r['variant']:<16} {r['setup_s']:>8.2f} {r['train_s']:>8.2f} {r['tokens'] / r['train_s']:>11.0f} "
              f"{r['tokens'] / total_s:>11.0f} {r['peak_rss_mib']:>12.0f} {gpu:>12}")


if __name__ == "__main__":
    main()
