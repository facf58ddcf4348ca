"""How much of the CPU demo's gain is the loop, and how much the lower rate it trains at.

The demo's warm-up ends at a learning rate of 1e-3 and the loop trains at 2e-4, so some of the loop's
gain could come from the lower rate alone. For every finished demo run given, this control starts from
the same warm-up model and, per iteration, fine-tunes on as many of the warm-up's own worked solutions
(drawn afresh each iteration) as the loop trained on in that iteration, with the RAFT demo's trainer
config (SFT at the loop's rate, one epoch), then evaluates greedily on the same held-out set. Same
steps, same rate, no sampling and no reward: what is left of the loop's gain over the control's is
what the sampled, graded responses taught.

    python bench/demo_control.py runs/seeds/demo_s42 runs/seeds/demo_s43 runs/seeds/demo_s44

Writes ``<run>/control/iter_<i>/{model,eval}`` (skipped when there) and prints both curves.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
from pathlib import Path

from common.records import read_records, write_jsonl
from pipeline.config import expand, load_config, stage_flags
from pipeline.report import read_json

REPO = Path(__file__).resolve().parent.parent
CONTROL_TRAINER = "configs/sft/demo_raft.yaml"


def accuracy(eval_dir: Path) -> float | None:
    """The evaluation's average accuracy (%) as evaluate.py wrote it; None before it ran."""
    summary = read_json(eval_dir / "summary.json")
    return None if summary is None else 100 * summary["average_accuracy"]


def training_size(iter_dir: Path) -> int | None:
    """How many records the loop trained on in this iteration (pairs or RAFT responses)."""
    for name in ("pairs.jsonl", "raft.jsonl"):
        if (iter_dir / name).is_file():
            return len(read_records(iter_dir / name))
    return None


def python_stage(args: list[str], environment: dict, log: Path) -> None:
    """Run a stage script with the run config's environment (the demo's: one thread, offline)."""
    env = {**os.environ, **{key: str(value) for key, value in environment.items()}}
    with open(log, "a", encoding="utf-8") as out:
        status = subprocess.run([sys.executable, *args], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    if status.returncode != 0:
        raise SystemExit(f"{args[0]} failed (exit {status.returncode}); its log: {log}")


def control(run_dir: Path) -> tuple[list[float | None], list[float | None]]:
    """(loop curve, control curve) of one finished run; runs the control's missing iterations."""
    config = expand(load_config(str(run_dir / "config.yaml")))
    solutions = read_records(run_dir / "assets" / "task" / "sft.jsonl")
    rng = random.Random(config.seed)
    start = accuracy(run_dir / "iter_0" / "eval")
    loop, ctrl = [start], [start]
    model = run_dir / "iter_0" / "model"
    for i in range(1, config.iterations + 1):
        size, out = training_size(run_dir / f"iter_{i}"), run_dir / "control" / f"iter_{i}"
        if size is None:
            raise SystemExit(f"{run_dir / f'iter_{i}'}: no pairs.jsonl or raft.jsonl; finish the run first")
        drawn = rng.sample(solutions, min(size, len(solutions)))  # drawn even when skipped: same draws on resume
        out.mkdir(parents=True, exist_ok=True)
        if not (out / "model").is_dir():
            write_jsonl(out / "train.jsonl", drawn)
            python_stage(["dpo_iteration/sft.py", CONTROL_TRAINER, "--model_name_or_path", str(model),
                          "--train_file", str(out / "train.jsonl"), "--output_dir", str(out / "model"),
                          "--seed", str(config.seed)], config.environment, out / "control.log")
        if accuracy(out / "eval") is None:
            python_stage(["eval_math/evaluate.py", "--model_name_or_path", str(out / "model"),
                          "--output_dir", str(out / "eval"), "--seed", str(config.seed), *stage_flags(config, "eval")],
                         config.environment, out / "control.log")
        loop.append(accuracy(run_dir / f"iter_{i}" / "eval"))
        ctrl.append(accuracy(out / "eval"))
        model = out / "model"
    return loop, ctrl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="finished demo run directories")
    args = parser.parse_args()
    os.chdir(REPO)
    print(f"{'run':<16} {'arm':<8} curve (greedy held-out accuracy, %)          gain")
    gains = {"loop": [], "control": []}
    for run_dir in args.runs:
        for arm, points in zip(("loop", "control"), control(run_dir), strict=True):
            gain = points[-1] - points[0]
            gains[arm].append(gain)
            shown = " ".join(f"{p:5.1f}" for p in points)
            print(f"{run_dir.name:<16} {arm:<8} {shown:<44} {gain:+.1f}", flush=True)
    for arm, values in gains.items():
        print(f"{arm}: mean final gain {sum(values) / len(values):+.1f} over {len(values)} run(s)")


if __name__ == "__main__":
    main()
