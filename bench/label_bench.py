"""Annotate-stage throughput end to end: ``python annotate/label.py`` and ``annotate/pairs.py`` as users run them.

    python bench/label_bench.py                                  # both parts
    python bench/label_bench.py --part speed --responses 8000
    python bench/label_bench.py --part scale --prompts 20000 --K 8

``speed``: a samples file of >= 5,000 distinct, real-looking responses (the reference solutions of
../shared/benchmarks and the labelled cases of ../shared/grader_dev, varied the way sampled responses
vary: right, a wrong answer boxed, the box dropped, "the answer is" instead of a box, cut at the length
limit, rambling into another solution), labeled by a fresh ``label.py`` process for each worker count.
The time counts everything a user waits for: process start, imports, read, grade, write.

``scale``: ``--prompts`` x ``--K`` responses labeled, then paired (max_min): wall time of each step and
its peak RSS (the largest process of the step, grader workers included; from wait4's rusage).

The machine is shared, so timings are noisy: run twice before believing a difference.
"""

from __future__ import annotations

import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from annotate.grader import last_boxed
from common.config import ConfigError, run_cli
from common.prompts import INSTRUCTION
from common.records import write_jsonl

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
PARTS = ("all", "speed", "scale")
# Sampled responses of a math model, roughly: most right or wrong with a box, a few off format or cut off.
KINDS = {"right": 40, "wrong_boxed": 30, "no_box": 6, "answer_is": 6, "truncated": 10, "ramble": 8}
OPENERS = (
    "Let's think step by step.",
    "To solve this problem, we work through it step by step.",
    "We are asked to find the requested quantity. Let's break the problem down.",
    "First, let's understand what the problem is asking.",
    "Let me work through this carefully.",
    "We start by writing down what we know.",
    "Step 1: Understand the problem.",
    "Let's analyze the problem.",
)
MAX_TRIES = 20
CHARS_PER_TOKEN = 4  # for num_tokens of made-up responses; real files carry the tokenizer's count


@dataclass
class BenchArgs:
    part: str = field(default="all", metadata={"help": f"one of {PARTS}"})
    responses: int = field(default=6000, metadata={"help": "speed: distinct responses in the file"})
    workers: str = field(default="1,2", metadata={"help": "speed: comma-separated num_workers to measure"})
    prompts: int = field(default=20_000, metadata={"help": "scale: prompts"})
    K: int = field(default=8, metadata={"help": "scale: responses per prompt"})
    scale_workers: int = field(default=1, metadata={"help": "scale: label.py's num_workers"})
    shared_dir: str = field(default=str(REPO.parent / "shared"), metadata={"help": "benchmarks and grader_dev"})
    work_dir: str | None = field(default=None, metadata={"help": "where to write the files (default: a temp dir)"})
    seed: int = field(default=0, metadata={"help": "seeds the made-up responses"})

    def __post_init__(self):
        if self.part not in PARTS:
            raise ConfigError(f"part must be one of {PARTS}, got {self.part!r}")
        if self.responses < 1 or self.prompts < 1 or self.K < 1:
            raise ConfigError("responses, prompts and K must be >= 1")


class Base(NamedTuple):
    problem: str
    solution: str  # ends with its final answer in a \boxed{}
    answer: str  # the ground truth


def with_box(solution: str, answer: str) -> str:
    return solution if last_boxed(solution) is not None else f"{solution}\n\nThe final answer is $\\boxed{{{answer}}}$."


def load_bases(shared: Path) -> list[Base]:
    """Problems with a worked solution and a ground truth, from the benchmarks and the grader corpus."""
    bases = []
    for name, problem_key in (("math500", "problem"), ("minerva_math", "problem"), ("aime24", "problem"),
                              ("olympiadbench", "question")):
        for line in (shared / "benchmarks" / name / "test.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if name == "olympiadbench":
                solution, answer = r["solution"][0], r["final_answer"][0].strip("$ ")
            else:
                solution = r["solution"]
                answer = r["answer"] if "answer" in r else last_boxed(solution)
            if solution and answer:
                bases.append(Base(r[problem_key], with_box(solution, str(answer)), str(answer)))
    for path in sorted((shared / "grader_dev").glob("*.jsonl")):
        if path.stem in ("adversarial_dev", "grader_tests_policy"):
            continue  # resource bombs and convention cases: not what a sampler produces
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["label"]:
                bases.append(Base(r["id"], with_box(r["response"], r["gt"]), r["gt"]))
    return bases


def vary(text: str, other: Base, rng: random.Random) -> str:
    """The same reasoning worded a little differently: a step dropped, repeated, or borrowed."""
    steps = text.split("\n")
    if len(steps) > 2:
        i = rng.randrange(len(steps) - 1)
        move = rng.random()
        if move < 0.3:
            del steps[i]
        elif move < 0.6:
            steps.insert(i, steps[i])
        else:
            # a borrowed step holding the other's box would change the final answer: leave that out
            borrowed = rng.choice(other.solution.split("\n"))
            if "\\boxed" not in borrowed:
                steps.insert(i, borrowed)
    return "\n".join(steps)


def wrong_answer(answer: str, other: str, rng: random.Random) -> str:
    """A model's wrong answer: usually a near miss of the right one (a digit off), else another problem's."""
    digits = [i for i, c in enumerate(answer) if c.isdigit()]
    if digits and rng.random() < 0.7:
        i = rng.choice(digits)
        return answer[:i] + rng.choice([d for d in "0123456789" if d != answer[i]]) + answer[i + 1:]
    return other


def respond(base: Base, kind: str, other: Base, rng: random.Random) -> tuple[str, str]:
    """A made-up sampled response of ``kind`` to ``base``, and its finish reason; ``other`` lends a wrong answer."""
    text = vary(base.solution, other, rng)
    if rng.random() < 0.5:
        text = f"{rng.choice(OPENERS)}\n\n{text}"
    boxed = last_boxed(text) or base.answer
    at = text.rfind(boxed)
    head, tail = (text[:at], text[at + len(boxed):]) if at >= 0 else (text, "")
    if kind == "wrong_boxed":
        return head + wrong_answer(base.answer, other.answer, rng) + tail, "stop"
    if kind == "no_box":
        return text.replace("\\boxed", "", 1) if "\\boxed" in text else text, "stop"
    if kind == "answer_is":
        stem = text[: text.rfind("\\boxed")] if "\\boxed" in text else text
        return f"{stem.rstrip('$ ')}\nThe answer is ${base.answer}$.", "stop"
    if kind == "truncated":
        return text[: int(len(text) * rng.uniform(0.3, 0.9))], "length"
    if kind == "ramble":
        return f"{text}\n\nWait, let me check that again.\n\n{other.solution}", "stop"
    return text, "stop"


def make_samples(bases: list[Base], prompts: int, K: int, seed: int, seen: set[int]) -> Iterator[dict]:
    """``prompts`` samples records of ``K`` responses each; ``seen`` collects the responses' hashes."""
    rng = random.Random(seed)
    for idx in range(prompts):
        base = bases[idx % len(bases)]
        responses, reasons = [], []
        for _ in range(K):
            kind = rng.choices(list(KINDS), weights=list(KINDS.values()))[0]
            for _attempt in range(MAX_TRIES):  # a short solution has few variants: draw again
                text, reason = respond(base, kind, rng.choice(bases), rng)
                if hash(text) not in seen:
                    break
            seen.add(hash(text))
            responses.append(text)
            reasons.append(reason)
        yield {
            "idx": idx,
            "problem": base.problem,
            "gt": base.answer,
            "prompt": f"<|im_start|>user\n{base.problem}\n{INSTRUCTION}<|im_end|>\n<|im_start|>assistant\n",
            "responses": responses,
            "finish_reasons": reasons,
            "num_tokens": [max(1, len(t) // CHARS_PER_TOKEN) for t in responses],
        }


class Run(NamedTuple):
    wall: float  # seconds
    cpu: float  # user + system seconds of the stage and its (waited-for) grader workers
    rss: float  # MiB, of the largest process


def run_stage(argv: list[str]) -> Run:
    """Run a stage script as a user would; wall time, CPU time and peak RSS come from wait4's rusage."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="disabled")
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)  # Linux reports KiB


def label_argv(samples: Path, labeled: Path, workers: int) -> list[str]:
    return ["annotate/label.py", "--dataset_name_or_path", str(samples), "--output_file", str(labeled),
            "--num_workers", str(workers)]


def speed(args: BenchArgs, bases: list[Base], work: Path) -> None:
    K = 8
    prompts, seen = -(-args.responses // K), set()
    samples = work / "speed_samples.jsonl"
    write_jsonl(samples, make_samples(bases, prompts, K, args.seed, seen))
    total = prompts * K
    print(f"speed: {prompts:,} prompts, {total:,} responses ({len(seen):,} distinct), "
          f"{samples.stat().st_size / 2**20:.1f} MiB")
    for workers in [int(w) for w in args.workers.split(",")]:
        labeled = work / f"speed_labeled_w{workers}.jsonl"
        run = run_stage(label_argv(samples, labeled, workers))
        stats = json.loads((work / "stats.json").read_text())["label"]
        print(f"  label.py --num_workers {workers}: {run.wall:.2f} s end to end = {total / run.wall:,.0f} responses/s "
              f"(CPU {run.cpu:.1f} s = {total / run.cpu:,.0f} responses per CPU-second; correct "
              f"{stats['correct'] / total:.1%}, timeouts {stats['timeouts']}); peak RSS {run.rss:.0f} MiB")


def scale(args: BenchArgs, bases: list[Base], work: Path) -> None:
    samples, labeled = work / "scale_samples.jsonl", work / "scale_labeled.jsonl"
    pairs_file = work / "scale_pairs.jsonl"
    seen: set[int] = set()
    write_jsonl(samples, make_samples(bases, args.prompts, args.K, args.seed + 1, seen))
    total = args.prompts * args.K
    print(f"scale: {args.prompts:,} prompts x {args.K} = {total:,} responses ({len(seen):,} distinct), "
          f"{samples.stat().st_size / 2**20:.0f} MiB")
    label = run_stage(label_argv(samples, labeled, args.scale_workers))
    print(f"  label.py --num_workers {args.scale_workers}: {label.wall:.1f} s ({total / label.wall:,.0f} "
          f"responses/s; CPU {label.cpu:.0f} s), peak RSS {label.rss:.0f} MiB")
    pairs = run_stage(["annotate/pairs.py", "--dataset_name_or_path", str(labeled),
                       "--output_file", str(pairs_file), "--choose_type", "max_min"])
    made = json.loads((work / "stats.json").read_text())["pairs"]["records"]
    print(f"  pairs.py --choose_type max_min: {pairs.wall:.1f} s, {made:,} pairs, peak RSS {pairs.rss:.0f} MiB")
    both = label.wall + pairs.wall
    print(f"  labeled and paired {total:,} responses in {both:.1f} s ({'within' if both <= 180 else 'OVER'} 3 minutes)")


def main(args: BenchArgs) -> None:
    bases = load_bases(Path(args.shared_dir))
    print(f"{len(bases):,} reference solutions as the seed of made-up responses")
    with tempfile.TemporaryDirectory(prefix="label_bench_") as tmp:
        work = Path(args.work_dir or tmp)
        if args.part in ("all", "speed"):
            speed(args, bases, work)
        if args.part in ("all", "scale"):
            scale(args, bases, work)


if __name__ == "__main__":
    run_cli(main, [BenchArgs])
